"""WooCommerce onboarding: `wc/v3/webhooks` (order.created / order.updated, signed with the connection's secret)
and what the consumer key can be seen to do (docs/connect.md).

WooCommerce lists every webhook of the store, whoever made it: cartbridge's are the ones named
`cartbridge connection <id> …` or delivering to the connection's address; the others are never touched.
"""
from __future__ import annotations

from typing import Any

import requests

from carts.onboarding import Check, Subscription, failed, order_topics_needed, passed, unknown, writes
from carts.woocommerce.api import SHIPMENT_TRACKING, WooCommerceAPI
from outbound.errors import Permanent
from schemas.connection import Connection

ORDER_TOPICS = ["order.created", "order.updated"]  # a cancellation is order.updated with status cancelled
PAGE_SIZE = 100


class WooCommerceOnboarding:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._connection = connection
        self._api = WooCommerceAPI(connection, timeout=timeout, session=session)
        self._name = f"cartbridge connection {connection.id}"

    def topics(self) -> list[str]:
        return list(ORDER_TOPICS) if order_topics_needed(self._connection) else []

    def subscriptions(self) -> list[Subscription]:
        rows = [row for page in self._api.pages("webhooks", {}) for row in page]
        return [self._subscription(row) for row in rows if isinstance(row, dict)]

    def _subscription(self, row: dict[str, Any]) -> Subscription:
        address = str(row.get("delivery_url") or "")
        ours = str(row.get("name") or "").startswith(self._name) or address.rstrip("/").endswith(
            f"/webhooks/carts/{self._connection.id}")
        return Subscription(id=str(row.get("id")), topic=str(row.get("topic") or ""), address=address,
                            problem="" if row.get("status") == "active" else f"is {row.get('status')}", ours=ours)

    def create(self, topic: str, address: str) -> None:
        self._write("POST", "webhooks", {"name": f"{self._name} {topic}", "topic": topic, **self._delivery(address)})

    def point_here(self, subscription: Subscription, address: str) -> None:
        self._write("PUT", f"webhooks/{subscription.id}", self._delivery(address))

    def delete(self, subscription: Subscription) -> None:
        self._api.request("DELETE", f"webhooks/{subscription.id}", params={"force": "true"})

    def _delivery(self, address: str) -> dict[str, Any]:
        # WooCommerce signs each delivery with this secret (X-WC-Webhook-Signature); webhooks/ checks it.
        return {"delivery_url": address, "secret": self._connection.webhook_secret, "status": "active"}

    def _write(self, method: str, path: str, body: dict[str, Any]) -> None:
        response = self._api.request(method, path, json=body)
        if response.status_code == 404:
            raise Permanent(f"{method} {path} answered 404: the store has no webhooks API (WooCommerce 3.5+)",
                            status=404)

    def checks(self) -> list[Check]:
        lines = [self._reads_orders()]
        if self._connection.sync_inventory or self._connection.sync_tracking_data:
            lines.append(unknown("key may write", f"{', '.join(writes(self._connection))} write with this key: "
                                 "WooCommerce shows a key's permission only in its admin (Read/Write needed)"))
        if self._connection.woocommerce_shipment_tracking:
            lines.append(self._shipment_tracking())
        return lines

    def _reads_orders(self) -> Check:
        response = self._api.request("GET", "orders", params={"per_page": 1})
        if response.status_code == 404:
            return failed("REST API", f"{self._connection.store_url}/wp-json/wc/v3 answered 404",
                          "enable pretty permalinks and the REST API, or correct store_url")
        return passed("REST API", "the key reads orders")

    def _shipment_tracking(self) -> Check:
        response = self._api.request("GET", "", namespace=SHIPMENT_TRACKING)
        if response.status_code == 404:
            return failed("Shipment Tracking extension", "not installed (its REST routes answer 404)",
                          "install the extension, or set woocommerce_shipment_tracking: false")
        return passed("Shipment Tracking extension", "installed")
