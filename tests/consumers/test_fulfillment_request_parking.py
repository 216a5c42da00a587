"""Issue 21, the orders flow: Shopify failing to take a fulfillment request's answer — after Infoplus has the
order — parks that connection's notification on `cart.orders.retry` instead of pausing the partition, so another
merchant's orders behind it on the same partition reach Infoplus meanwhile; when Shopify is back (after a
SIGKILL and restart, too), the parked notification is answered once and finds the order Infoplus already has.
Real orders consumer, real broker, real stand-ins."""
from __future__ import annotations

import time

import pytest

from events import topics
from sandbox.sample import woocommerce_order
from tests.consumers.test_fulfillment_requests import fulfillment_service
from tests.support.cart_orders import WOO_ID, infoplus_orders, post_woo, woo  # noqa: F401  (fixture)
from tests.support.world import eventually
from tests.webhooks.test_fulfillment_notification import post_notification

WAIT = 60
HEALTHY_WITHIN = 20  # seconds: "a few seconds", with room for a loaded machine (the measured figure is printed)


@pytest.fixture
def world(world):
    # One partition: the failing store's notification sits ahead of the other merchant's orders.
    world.overrides.update({"KAFKA_TOPIC_PARTITIONS": "1", "CONNECTION_RETRY_MAX_SECONDS": "2"})
    return world


def started_orders(world):
    consumer = world.start_consumer("orders")
    eventually(lambda: "assigned [" in consumer.output() and ".retry[" in consumer.output(), WAIT,
               message="orders consumer assigned its partitions")
    return consumer


FAILING = 1_000_000  # answers Shopify refuses: until the test says it is back


def answers_tried(world) -> int:
    return FAILING - world.shopify.answer_failures_left


def test_shopify_failing_the_answer_parks_its_request_and_the_order_is_made_once(world, woo):  # noqa: F811
    location = fulfillment_service(world)
    world.shopify.add_order(8101, [{"id": 101, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8101)
    world.shopify.fail_answers(FAILING)  # Shopify takes no answer: after Infoplus has the order
    first = started_orders(world)

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    eventually(lambda: infoplus_orders(world, 101, 8101) and answers_tried(world) >= 1, WAIT,
               message="Infoplus has the requested order and Shopify refused the acceptance")
    pushed = time.monotonic()
    woo_ids = [9101, 9102, 9103]
    for order_id in woo_ids:  # behind the failing store's notification, on the same partition
        assert post_woo(world, woocommerce_order(order_id)).status_code == 202
    eventually(lambda: all(infoplus_orders(world, WOO_ID, n) for n in woo_ids), HEALTHY_WITHIN,
               message="the other merchant's orders reach Infoplus while Shopify refuses answers")
    print(f"WooCommerce's orders reached Infoplus {time.monotonic() - pushed:.1f} s after the push, "
          f"Shopify refusing answers")
    assert "parked event_id=" in first.output()

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})  # Shopify sends the callback again meanwhile
    eventually(lambda: first.output().count("parked event_id=") >= 2, WAIT, message="the repeat parked too")
    first.kill()  # SIGKILL while parked: the parked records are read again from the retry topic
    tried = answers_tried(world)
    started_orders(world)
    eventually(lambda: answers_tried(world) > tried, WAIT, message="the restarted consumer tries the answer again")

    world.shopify.take_answers_again()
    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="the parked request is accepted once Shopify is back")
    time.sleep(3)  # a second order or answer, by the other parked notification, would be here by now
    assert len(infoplus_orders(world, 101, 8101)) == 1
    assert len(world.shopify.fulfillment_order(fo_id)["answers"]) == 1
    assert all(len(infoplus_orders(world, WOO_ID, n)) == 1 for n in woo_ids)
    assert world.read(topics.dead_letters(topics.CART_ORDERS), expect=0, timeout=2) == []
