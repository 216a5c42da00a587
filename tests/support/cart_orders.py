"""Shared steps of the WooCommerce / BigCommerce order tests: stand-in stores wired into the World as
connections 202 (WooCommerce) and 303 (BigCommerce), and signed deliveries posted to the real web endpoint.

Import the fixtures into a test module (`from tests.support.cart_orders import woo, bc  # noqa: F401`).
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterator

import pytest
import requests

from events import topics
from sandbox.bigcommerce import BigCommerceStandIn
from sandbox.sample import (bigcommerce_headers, bigcommerce_payload, woocommerce_headers, woocommerce_ping_body,
                            woocommerce_ping_headers)
from sandbox.woocommerce import WooCommerceStandIn
from tests.support.world import eventually

WOO_ID, BC_ID = 202, 303
WOO_SECRET = "woo-webhook-secret"
BC_CLIENT_SECRET = "bc-client-secret"
WAIT = 60  # seconds: the machine is shared with other test runs


@pytest.fixture
def woo(world) -> Iterator[WooCommerceStandIn]:
    """A WooCommerce store stand-in, registered as connection 202."""
    with WooCommerceStandIn() as store:
        world.connections.append({
            "id": WOO_ID, "name": "Acme Woo", "platform": "woocommerce", "store_url": store.store_url,
            "lob_id": 10000, "order_source_id": 56, "warehouse_id": 1000, "default_carrier_id": 1,
            "webhook_secret": WOO_SECRET, "consumer_key": store.consumer_key,
            "consumer_secret": store.consumer_secret, "sync_orders": True})
        world.write_connections()
        yield store


@pytest.fixture
def bc(world) -> Iterator[BigCommerceStandIn]:
    """A BigCommerce store stand-in, registered as connection 303."""
    with BigCommerceStandIn() as store:
        world.connections.append({
            "id": BC_ID, "name": "Acme BigCommerce", "platform": "bigcommerce", "store_hash": store.store_hash,
            "api_base_url": store.api_base_url, "access_token": store.access_token, "lob_id": 10000,
            "order_source_id": 57, "warehouse_id": 1000, "default_carrier_id": 1,
            "webhook_secret": BC_CLIENT_SECRET, "sync_orders": True})
        world.write_connections()
        yield store


# -- deliveries --------------------------------------------------------------------------------------------
def post_woo(world, order: dict, *, topic: str = "order.created", secret: str = WOO_SECRET) -> requests.Response:
    body = json.dumps(order).encode()
    return world.post(f"/webhooks/carts/{WOO_ID}", body, woocommerce_headers(body, secret, topic=topic))


def post_woo_ping(world) -> requests.Response:
    return world.post(f"/webhooks/carts/{WOO_ID}", woocommerce_ping_body(7), woocommerce_ping_headers())


def post_bc(world, order_id: int, *, scope: str = "store/order/created", secret: str = BC_CLIENT_SECRET,
            timestamp: int | None = None, payload: dict | None = None, msg_id: str | None = None,
            **payload_fields: Any) -> requests.Response:
    payload = payload or bigcommerce_payload(order_id, scope=scope, **payload_fields)
    body = json.dumps(payload).encode()
    headers = bigcommerce_headers(body, secret, msg_id=msg_id, timestamp=timestamp)
    return world.post(f"/webhooks/carts/{BC_ID}", body, headers)


# -- what came out -----------------------------------------------------------------------------------------
def infoplus_orders(world, connection_id: int, cart_order_id: int | str) -> list[dict]:
    return world.infoplus.orders_for(f"{connection_id}-{cart_order_id}")


def wait_for_order(world, connection_id: int, cart_order_id: int | str) -> dict:
    found = eventually(lambda: infoplus_orders(world, connection_id, cart_order_id), WAIT,
                       message=f"Infoplus order {connection_id}-{cart_order_id}")
    return found[0]


def side_records(world, topic: str, cart_order_id: int | str, expect: int = 1) -> list[dict]:
    """Records on `cart.orders.skipped` / `.dlq` about one cart order (waits for `expect` of them)."""
    def matching() -> list[dict]:
        records = world.read(topic, expect=0, timeout=2)
        return [r for r in records if _cart_order_id(r) == str(cart_order_id)]
    if expect == 0:
        return matching()
    return eventually(lambda: len(found := matching()) >= expect and found, WAIT,
                      message=f"{expect} record(s) on {topic} for order {cart_order_id}")


def skips(world, cart_order_id: int | str, expect: int = 1) -> list[dict]:
    return side_records(world, topics.skipped(topics.CART_ORDERS), cart_order_id, expect)


def dead_letters(world, cart_order_id: int | str, expect: int = 1) -> list[dict]:
    return side_records(world, topics.dead_letters(topics.CART_ORDERS), cart_order_id, expect)


def barrier(world, cart_order_id: int | str, post_stale: Callable[[], Any]) -> None:
    """Wait until the consumer has handled every event of this order posted so far.

    `post_stale` posts an older version of the order; one order's events are handled in order (one Kafka key,
    one partition), so once its "stale" skip is on record, everything posted before it has been handled too.
    """
    def stale_skips() -> int:
        return sum(r["reason"].startswith("stale") for r in skips(world, cart_order_id, expect=0))
    before = stale_skips()
    post_stale()
    eventually(lambda: stale_skips() > before, WAIT, message=f"order {cart_order_id} handled up to the barrier")


def settle(seconds: float = 3.0) -> None:
    """Give the consumer a moment to (wrongly) do more, before asserting that it did not."""
    time.sleep(seconds)


def _cart_order_id(record: dict) -> str | None:
    payload = (record.get("event") or {}).get("payload") or {}
    return str(payload.get("cart_order_id") or payload.get("order_id") or "") or None
