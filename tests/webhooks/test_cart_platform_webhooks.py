"""WooCommerce and BigCommerce deliveries at the web tier, against a real broker (DESIGN.md status codes)."""
from __future__ import annotations

import json
import time

import pytest

from events import topics
from sandbox.sample import bigcommerce_headers, bigcommerce_payload, woocommerce_headers, woocommerce_order
from tests.support.cart_orders import (BC_CLIENT_SECRET, BC_ID, WOO_ID, WOO_SECRET, bc, post_bc,  # noqa: F401
                                       post_woo, post_woo_ping, woo)
from tests.support.kafka import read_topic


def nothing_published(world) -> bool:
    return world.read(topics.CART_ORDERS, expect=0, timeout=2) == []


# -- WooCommerce -------------------------------------------------------------------------------------------
def test_woo_signed_order_is_published_as_a_normalized_order(world, woo):
    order = woocommerce_order(order_id=801, skus=["SKU-1", "SKU-2"], quantity=2)

    response = post_woo(world, order)

    assert response.status_code == 202, response.text
    [record] = read_topic(world.bootstrap, world.prefix + topics.CART_ORDERS)
    envelope = json.loads(record.value)
    assert record.key == f"{WOO_ID}:801".encode()
    assert response.json()["event_ids"] == [envelope["event_id"]]
    assert envelope["type"] == "cart.order" and envelope["source"] == "woocommerce"
    payload = envelope["payload"]
    assert payload["paid"] is True and payload["cancelled"] is False
    assert [(line["sku"], line["quantity"]) for line in payload["lines"]] == [("SKU-1", 2), ("SKU-2", 2)]
    assert payload["ship_to"]["street"] == order["shipping"]["address_1"]
    assert payload["updated_at"] == order["date_modified_gmt"] + "+00:00"
    assert envelope["delivery"]["topic"] == "order.created"


def test_woo_the_same_order_version_delivered_again_keeps_its_event_id(world, woo):
    order = woocommerce_order(order_id=802)

    first = post_woo(world, order, topic="order.created")
    again = post_woo(world, order, topic="order.updated")  # a new delivery id, the same order version

    assert first.status_code == again.status_code == 202
    assert first.json()["event_ids"] == again.json()["event_ids"]


def test_woo_bad_signature_is_401_and_nothing_is_published(world, woo):
    response = post_woo(world, woocommerce_order(order_id=803), secret="not-the-secret")

    assert response.status_code == 401
    assert nothing_published(world)


def test_woo_ping_is_answered_exactly_200_and_publishes_nothing(world, woo):
    response = post_woo_ping(world)

    assert response.status_code == 200
    assert response.content == b""
    assert nothing_published(world)


def test_a_ping_shaped_body_with_a_wrong_signature_is_not_a_ping(world, woo):
    body = b"webhook_id=7"
    headers = {**woocommerce_headers(body, "not-the-secret"), "Content-Type": "application/x-www-form-urlencoded"}

    assert world.post(f"/webhooks/carts/{WOO_ID}", body, headers).status_code == 401


def test_woo_unhandled_topic_is_200_ignored(world, woo):
    body = json.dumps({"id": 804}).encode()
    response = world.post(f"/webhooks/carts/{WOO_ID}", body,
                          woocommerce_headers(body, WOO_SECRET, topic="order.deleted"))

    assert response.status_code == 200 and response.json()["ignored"] is True
    assert "order.deleted" in response.json()["reason"]
    assert nothing_published(world)


def test_woo_order_without_lines_is_422_with_field_messages(world, woo):
    order = woocommerce_order(order_id=805)
    order["line_items"] = []

    response = post_woo(world, order)

    assert response.status_code == 422
    assert "line_items" in response.text


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_woo_date_out_of_range_once_made_utc_is_422_not_500(world, woo, moment):
    order = woocommerce_order(order_id=806)
    order["date_modified_gmt"] = moment  # an offset on a *_gmt value is converted to UTC: past year 9999 / before 1

    response = post_woo(world, order)

    assert response.status_code == 422, response.text
    assert "date_modified_gmt" in response.json()["messages"]


def test_woo_price_too_large_for_a_number_is_422(world, woo):
    order = woocommerce_order(order_id=807)
    order["line_items"][0]["price"] = "1e999"  # was accepted as an Infinity unit price no consumer reads back

    response = post_woo(world, order)

    assert response.status_code == 422, response.text
    assert "price" in response.json()["messages"]["line_items"]["0"]
    assert nothing_published(world)


# -- BigCommerce -------------------------------------------------------------------------------------------
def test_bc_signed_delivery_is_published_as_a_reference(world, bc):
    payload = bigcommerce_payload(901)

    response = post_bc(world, 901, payload=payload)

    assert response.status_code == 202, response.text
    [record] = read_topic(world.bootstrap, world.prefix + topics.CART_ORDERS)
    envelope = json.loads(record.value)
    assert record.key == f"{BC_ID}:901".encode()
    assert envelope["type"] == "cart.order_reference" and envelope["source"] == "bigcommerce"
    assert envelope["payload"] == {"order_id": "901", "scope": "store/order/created", "hash": payload["hash"],
                                   "created_at": payload["created_at"], "new_status_id": None}


def test_bc_the_same_event_redelivered_keeps_its_event_id(world, bc):
    payload = bigcommerce_payload(902)

    first = post_bc(world, 902, payload=payload, msg_id="msg_1")
    retry = post_bc(world, 902, payload=payload, msg_id="msg_1")  # BigCommerce's retry: same payload, same hash

    assert first.status_code == retry.status_code == 202
    assert first.json()["event_ids"] == retry.json()["event_ids"]


def test_bc_two_updates_of_one_order_are_two_events_even_with_the_same_hash(world, bc):
    # The hash covers only `data` ({type, id}), so every update of one order carries the same hash.
    first = post_bc(world, 903, payload=bigcommerce_payload(903, "store/order/updated", hash_value="h",
                                                            created_at=int(time.time()) - 5))
    second = post_bc(world, 903, payload=bigcommerce_payload(903, "store/order/updated", hash_value="h"))

    assert first.json()["event_ids"] != second.json()["event_ids"]


def test_bc_two_updates_of_one_order_in_the_same_second_are_two_events(world, bc):
    # Same hash (it covers only `data`), same whole-second created_at: only the delivery's webhook-id differs.
    moment = int(time.time())
    first = post_bc(world, 904, payload=bigcommerce_payload(904, "store/order/updated", hash_value="h",
                                                            created_at=moment), msg_id="msg_a")
    second = post_bc(world, 904, payload=bigcommerce_payload(904, "store/order/updated", hash_value="h",
                                                             created_at=moment), msg_id="msg_b")

    assert first.status_code == second.status_code == 202
    assert first.json()["event_ids"] != second.json()["event_ids"]


def test_bc_bad_signature_is_401_and_nothing_is_published(world, bc):
    assert post_bc(world, 904, secret="not-the-client-secret").status_code == 401
    assert nothing_published(world)


def test_bc_replay_with_an_old_timestamp_is_401(world, bc):
    # A captured request replayed later: correctly signed, but its timestamp is outside the window.
    body = json.dumps(bigcommerce_payload(905)).encode()
    headers = bigcommerce_headers(body, BC_CLIENT_SECRET, timestamp=int(time.time()) - 3600)

    response = world.post(f"/webhooks/carts/{BC_ID}", body, headers)

    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]
    assert nothing_published(world)


def test_bc_unhandled_scope_is_200_ignored(world, bc):
    response = post_bc(world, 906, scope="store/product/updated")

    assert response.status_code == 200 and response.json()["ignored"] is True
    assert nothing_published(world)


def test_bc_payload_without_an_order_id_is_422(world, bc):
    payload = bigcommerce_payload(907)
    del payload["data"]["id"]

    response = post_bc(world, 907, payload=payload)

    assert response.status_code == 422
    assert "data" in response.text


@pytest.mark.parametrize("created_at", [2 ** 63, 10 ** 30, -1])
def test_bc_created_at_that_is_no_unix_time_is_422(world, bc, created_at):
    # Accepted before, then the orders consumer failed reading it as a datetime, retrying the event forever.
    response = post_bc(world, 908, payload=bigcommerce_payload(908, created_at=created_at))

    assert response.status_code == 422, response.text
    assert "created_at" in response.json()["messages"]
    assert nothing_published(world)


def test_bc_negative_order_id_is_422(world, bc):
    # The consumer puts the id in a URL path and dead-lettered "-5"; the web tier now refuses it up front.
    response = post_bc(world, -5, payload=bigcommerce_payload(-5))

    assert response.status_code == 422, response.text
    assert "id" in response.json()["messages"]["data"]
