"""WooCommerce order webhooks: the unsigned ping, the `X-WC-Webhook-Signature` HMAC, the topic, the order.

WooCommerce has no event id (`X-WC-Webhook-Delivery-ID` is new per attempt) and builds the payload when it
delivers, so a delivery is identified by what it carries: the order id and its `date_modified_gmt`, within the
connection (one connection is one store, so the connection stands for `X-WC-Webhook-Source`). Reconciliation
(consumers/woocommerce_reconcile.py) builds its events with `order_delivery` too, so the same order version has
the same event id whichever way it came.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from carts.base import ORDER_EVENT, Delivery, delivery_metadata, require_handled
from schemas.connection import Connection
from schemas.woocommerce import WooOrderSchema
from signing import verify_base64_hmac

ORDER_TOPICS = frozenset({"order.created", "order.updated"})  # a cancellation is order.updated, status cancelled

_ORDER_SCHEMA = WooOrderSchema()
_PING = re.compile(rb"webhook_id=\d+")
_DELIVERY_HEADERS = {
    "topic": "X-WC-Webhook-Topic",
    "source": "X-WC-Webhook-Source",  # informational: the HMAC with the connection's secret authenticates
    "webhook_id": "X-WC-Webhook-ID",
    "delivery_id": "X-WC-Webhook-Delivery-ID",
}


def order_delivery(payload: Any, metadata: dict[str, Any]) -> Delivery:
    """The event for one WooCommerce order snapshot (webhook or reconciliation); raises ValidationError."""
    order = _ORDER_SCHEMA.load(payload)
    dedupe_key = f"order:{order.cart_order_id}:{order.updated_at}"
    return Delivery(ORDER_EVENT, dedupe_key, order.cart_order_id, order.to_dict(), metadata)


class WooCommerceDeliveries:
    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Sent on webhook creation: body `webhook_id=<id>`, no signature; WooCommerce wants exactly 200."""
        return not headers.get("X-WC-Webhook-Signature") and _PING.fullmatch(body.strip()) is not None

    def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        verify_base64_hmac(body, headers.get("X-WC-Webhook-Signature"), connection.webhook_secret)

    def read_delivery(self, headers: Mapping[str, str], payload: Any, connection: Connection) -> Delivery:
        metadata = delivery_metadata(headers, _DELIVERY_HEADERS)
        require_handled("WooCommerce", "topic", metadata.get("topic"), ORDER_TOPICS)
        return order_delivery(payload, metadata)
