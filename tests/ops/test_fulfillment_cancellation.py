"""The ops console answers a Shopify cancellation request that the orders consumer handed to ops."""
from __future__ import annotations

from events import topics
from tests.consumers.test_fulfillment_requests import WAIT, fulfillment_service
from tests.support.ops import form_token, logged_in
from tests.support.world import eventually
from tests.webhooks.test_fulfillment_notification import post_notification

DLQ = topics.dead_letters(topics.CART_ORDERS)


def test_a_waiting_cancellation_request_is_shown_and_answered_from_the_console(world, console):
    location = fulfillment_service(world)
    world.shopify.add_order(8201, [{"id": 1, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8201)
    world.start_consumer("orders")
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="accepted")
    world.shopify.request_cancellation(8201)
    post_notification(world, {"kind": "CANCELLATION_REQUEST"})
    world.read(DLQ, timeout=WAIT)
    browser = logged_in(console)

    page = browser.get(console + "/side", params={"topic": DLQ}, timeout=10)
    assert "cancellation requests waiting for ops" in page.text and fo_id in page.text
    refused = browser.post(console + "/fulfillment-cancellation", headers={"Origin": console}, timeout=10, data={
        "csrf": form_token(page.text), "topic": DLQ, "connection": "101", "fulfillment_order_id": fo_id,
        "decision": "reject", "message": ""})
    assert refused.status_code == 400  # a rejection needs the reason the merchant reads
    answer = browser.post(console + "/fulfillment-cancellation", headers={"Origin": console}, timeout=10, data={
        "csrf": form_token(page.text), "topic": DLQ, "connection": "101", "fulfillment_order_id": fo_id,
        "decision": "accept", "message": "cancelled in Infoplus by ops"})

    assert answer.status_code == 200 and "accepted" in answer.text, answer.text
    fo = world.shopify.fulfillment_order(fo_id)
    assert fo["requestStatus"] == "CANCELLATION_ACCEPTED"
    assert fo["answers"][-1]["message"] == "cancelled in Infoplus by ops"
