"""Shopify order webhooks: verify the HMAC, read the topic, normalize the order."""
from __future__ import annotations

from typing import Any, Mapping

from carts.base import ORDER_EVENT, Delivery, delivery_metadata, require_handled
from schemas.connection import Connection
from schemas.shopify import ShopifyOrderSchema
from signing import verify_base64_hmac

# orders/create fires for unpaid orders too; orders/paid brings them once paid (the consumer holds unpaid ones).
# orders/updated and orders/cancelled are changes after creation: the consumer compares them with Infoplus.
ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/updated", "orders/cancelled"})

_ORDER_SCHEMA = ShopifyOrderSchema()  # built once: constructing a schema costs more than loading an order

_DELIVERY_HEADERS = {
    "topic": "X-Shopify-Topic",
    "shop_domain": "X-Shopify-Shop-Domain",  # informational: the HMAC is the authentication
    "api_version": "X-Shopify-API-Version",
    "webhook_id": "X-Shopify-Webhook-Id",
    "event_id": "X-Shopify-Event-Id",
    "triggered_at": "X-Shopify-Triggered-At",
}


class ShopifyDeliveries:
    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # Shopify sends no ping

    def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        verify_base64_hmac(body, headers.get("X-Shopify-Hmac-Sha256"), connection.webhook_secret)

    def read_delivery(self, headers: Mapping[str, str], payload: Any, connection: Connection) -> Delivery:
        metadata = delivery_metadata(headers, _DELIVERY_HEADERS)
        require_handled("Shopify", "topic", metadata.get("topic"), ORDER_TOPICS)
        order = _ORDER_SCHEMA.load(payload)
        # Shopify re-sends a failed delivery with the same webhook id; fall back to the order's own version.
        dedupe_key = metadata.get("webhook_id") or f"{metadata['topic']}:{order.cart_order_id}:{order.updated_at}"
        return Delivery(ORDER_EVENT, dedupe_key, order.cart_order_id, order.to_dict(), metadata)
