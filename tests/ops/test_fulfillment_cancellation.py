"""The ops console answers a Shopify cancellation request that the orders consumer handed to ops."""
from __future__ import annotations

from events import topics
from tests.consumers.test_fulfillment_requests import WAIT, accepted_request
from tests.support.ops import form_token, logged_in
from tests.webhooks.test_fulfillment_notification import post_notification

DLQ = topics.dead_letters(topics.CART_ORDERS)


def test_a_waiting_cancellation_request_is_shown_and_answered_from_the_console(world, console):
    fo_id = accepted_request(world, 8201, [{"id": 1, "sku": "SKU-1", "quantity": 1}])
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
