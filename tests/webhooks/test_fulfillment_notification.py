"""The Shopify fulfillment service callback, against a real broker: authenticated like Shopify's webhooks,
published to cart.orders, answered 202 without doing the work; status codes as DESIGN.md lists them."""
from __future__ import annotations

import json

from events import topics
from sandbox.sample import sign
from tests.support.kafka import read_topic
from tests.support.world import SHOPIFY_SECRET

PATH = "/webhooks/carts/{}/fulfillment_order_notification"


def post_notification(world, body: dict | bytes, *, connection_id: int = 101, secret: str = SHOPIFY_SECRET,
                      signed: bool = True):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Shop-Domain": "acme.myshopify.com"}
    if signed:
        headers["X-Shopify-Hmac-Sha256"] = sign(raw, secret)
    return world.post(PATH.format(connection_id), raw, headers)


def fulfillment_service_connection(world) -> None:
    world.connections[0]["fulfillment_service"] = True
    world.write_connections()


def test_a_signed_notification_is_published_and_answered_202(world):
    fulfillment_service_connection(world)

    response = post_notification(world, {"kind": "FULFILLMENT_REQUEST"})

    assert response.status_code == 202, response.text
    [event_id] = response.json()["event_ids"]
    [record] = read_topic(world.bootstrap, world.prefix + topics.CART_ORDERS)
    envelope = json.loads(record.value)
    assert record.key == b"101:fulfillment-service"
    assert envelope["event_id"] == event_id and envelope["type"] == "shopify.fulfillment_order_notification"
    assert envelope["payload"] == {"kind": "FULFILLMENT_REQUEST"} and envelope["connection_id"] == 101


def test_bad_or_missing_signature_is_401_and_nothing_is_published(world):
    fulfillment_service_connection(world)
    assert post_notification(world, {"kind": "FULFILLMENT_REQUEST"}, secret="wrong").status_code == 401
    assert post_notification(world, {"kind": "FULFILLMENT_REQUEST"}, signed=False).status_code == 401
    assert world.read(topics.CART_ORDERS, expect=0, timeout=2) == []


def test_unknown_connection_and_a_connection_that_is_no_fulfillment_service_are_404(world):
    assert post_notification(world, {"kind": "FULFILLMENT_REQUEST"}, connection_id=999).status_code == 404
    assert post_notification(world, {"kind": "FULFILLMENT_REQUEST"}).status_code == 404  # merchant-managed


def test_not_json_is_400_and_no_kind_is_422_and_an_unknown_kind_is_ignored(world):
    fulfillment_service_connection(world)
    assert post_notification(world, b"kind=FULFILLMENT_REQUEST").status_code == 400
    missing = post_notification(world, {"kinds": "FULFILLMENT_REQUEST"})
    assert missing.status_code == 422 and "kind" in missing.json()["messages"]
    assert post_notification(world, ["FULFILLMENT_REQUEST"]).status_code == 422
    ignored = post_notification(world, {"kind": "SOMETHING_NEW"})
    assert ignored.status_code == 200 and ignored.json()["ignored"] is True
    assert world.read(topics.CART_ORDERS, expect=0, timeout=2) == []


def test_body_over_the_limit_is_413(world):
    fulfillment_service_connection(world)
    world.overrides["MAX_BODY_BYTES"] = "100"
    assert post_notification(world, {"kind": "FULFILLMENT_REQUEST", "pad": "x" * 200}).status_code == 413
