"""Cheap replays of a constant body (issue 22, item 8): Shopify's fulfillment-service callback is the same every
time and only the body is signed, so a captured one can be replayed without end. Repeats that arrived before a
read of the requests began have no further effect: real web tier, broker, orders consumer, Shopify stand-in."""
from __future__ import annotations

import time

from consumers.orders import CALLBACK_CLOCK_MARGIN
from tests.consumers.test_fulfillment_requests import WAIT, fulfillment_service
from tests.support.cart_orders import settle
from tests.support.world import eventually
from tests.webhooks.test_fulfillment_notification import post_notification

REPLAYS = 20


def reads_of_requests(world) -> int:
    return sum(1 for call in world.shopify.calls
               if "assignedFulfillmentOrders" in str((call.json or {}).get("query", "")))


def test_a_flood_of_one_callback_reads_the_requests_once(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8601, [{"id": 1, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8601)
    for _ in range(REPLAYS):  # one real callback and its replays, queued before the consumer reads any
        assert post_notification(world, {"kind": "FULFILLMENT_REQUEST"}).status_code == 202
    # "Before a read began" allows for clocks apart by CALLBACK_CLOCK_MARGIN (the web tier stamps the callback, the
    # consumer its read): a consumer quick to start would read within it, and callbacks inside it are read again.
    time.sleep(CALLBACK_CLOCK_MARGIN.total_seconds() + 0.5)

    world.start_consumer("orders")

    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="the request accepted")
    settle()
    assert len(world.infoplus.orders) == 1
    assert reads_of_requests(world) <= 2, reads_of_requests(world)  # not one per replay


def test_a_callback_after_the_read_still_reads_again(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8602, [{"id": 1, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [first] = world.shopify.request_fulfillment(8602)
    world.start_consumer("orders")
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    eventually(lambda: world.shopify.fulfillment_order(first)["requestStatus"] == "ACCEPTED", WAIT,
               message="the first request accepted")

    world.shopify.add_order(8603, [{"id": 1, "sku": "SKU-2", "quantity": 1}], location_id=location)
    [second] = world.shopify.request_fulfillment(8603)
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})

    eventually(lambda: world.shopify.fulfillment_order(second)["requestStatus"] == "ACCEPTED", WAIT,
               message="a request made after the first read is still read")
