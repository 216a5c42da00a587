"""The web tier against a real broker: status codes exactly as DESIGN.md lists them."""
from __future__ import annotations

import json
import time

import requests

from events import topics
from sandbox.sample import shopify_headers, shopify_order
from tests.support.kafka import read_topic
from tests.support.world import SHOPIFY_SECRET


def test_signed_order_is_published_and_answered_202(world):
    response = world.post_shopify_order(shopify_order(order_id=5001, skus=["SKU-1"]))

    assert response.status_code == 202, response.text
    [event_id] = response.json()["event_ids"]
    [envelope] = world.read(topics.CART_ORDERS)
    assert envelope["event_id"] == event_id
    assert envelope["type"] == "cart.order" and envelope["source"] == "shopify"
    assert envelope["connection_id"] == 101
    assert envelope["payload"]["cart_order_id"] == "5001"
    assert envelope["payload"]["lines"][0]["sku"] == "SKU-1"
    assert envelope["original"]["id"] == 5001
    assert envelope["delivery"]["topic"] == "orders/create"


def test_the_kafka_key_keeps_one_orders_events_together(world):
    world.post_shopify_order(shopify_order(order_id=5002))
    [record] = read_topic(world.bootstrap, world.prefix + topics.CART_ORDERS)
    assert record.key == b"101:5002"


def test_bad_signature_is_401_and_nothing_is_published(world):
    response = world.post_shopify_order(shopify_order(order_id=5003), secret="not-the-secret")

    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    assert world.read(topics.CART_ORDERS, expect=0, timeout=2) == []


def test_missing_signature_is_401(world):
    response = world.post("/webhooks/carts/101", json.dumps(shopify_order()).encode(),
                          {"X-Shopify-Topic": "orders/create"})
    assert response.status_code == 401


def test_signed_body_that_is_not_json_is_400(world):
    body = b"<order>1</order>"
    response = world.post("/webhooks/carts/101", body, shopify_headers(body, SHOPIFY_SECRET))
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]


def test_schema_violation_is_422_with_field_messages(world):
    order = shopify_order(order_id=5004)
    order["line_items"][0]["quantity"] = 0
    del order["created_at"]

    response = world.post_shopify_order(order)

    assert response.status_code == 422
    messages = response.json()["messages"]
    assert "created_at" in messages
    assert "quantity" in messages["line_items"]["0"]


def test_a_price_too_large_for_a_number_is_422(world):
    # Read as a Decimal, "1e999" passed; as the float unit price it became Infinity, which no consumer reads back.
    order = shopify_order(order_id=5008)
    order["line_items"][0]["price"] = "1e999"

    response = world.post_shopify_order(order)

    assert response.status_code == 422, response.text
    assert "price" in response.json()["messages"]["line_items"]["0"]
    assert world.read(topics.CART_ORDERS, expect=0, timeout=2) == []


def test_unknown_connection_is_404(world):
    response = world.post_shopify_order(shopify_order(), connection_id=999)
    assert response.status_code == 404
    assert "999" in response.json()["error"]


def test_body_over_the_limit_is_413(world):
    world.overrides["MAX_BODY_BYTES"] = "2000"
    order = shopify_order(order_id=5005)
    order["note"] = "x" * 3000

    response = world.post_shopify_order(order)

    assert response.status_code == 413


def test_unknown_connection_is_checked_before_the_size(world):
    world.overrides["MAX_BODY_BYTES"] = "10"
    response = world.post_shopify_order(shopify_order(), connection_id=999)
    assert response.status_code == 404


def test_topic_not_handled_gets_200_with_the_reason(world):
    response = world.post_shopify_order(shopify_order(order_id=5006), topic="products/update")

    assert response.status_code == 200
    assert response.json()["ignored"] is True and "products/update" in response.json()["reason"]
    assert world.read(topics.CART_ORDERS, expect=0, timeout=2) == []


def test_health_and_readiness(world):
    assert requests.get(world.web_url + "/healthz", timeout=5).status_code == 200
    assert requests.get(world.web_url + "/readyz", timeout=5).status_code == 200


def test_broker_down_is_503_with_retry_after_within_5_seconds(world):
    world.overrides["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"  # nothing listens there
    started = time.monotonic()

    response = world.post_shopify_order(shopify_order(order_id=5007))

    assert response.status_code == 503
    assert time.monotonic() - started < 5
    assert int(response.headers["Retry-After"]) > 0
    assert requests.get(world.web_url + "/readyz", timeout=5).status_code == 503
