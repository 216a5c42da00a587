"""Shopify order webhooks: verify the HMAC, read the topic, normalize the order."""
from __future__ import annotations

import uuid
from typing import Any, Mapping


from carts.base import ORDER_EVENT, Delivery, delivery_metadata, require_handled
from schemas.connection import Connection
from schemas.shopify import FulfillmentOrderNotificationSchema, ShopifyOrderSchema
from signing import verify_base64_hmac

# The fulfillment service callback (`<callbackUrl>/fulfillment_order_notification`): `{"kind": ...}` only; the
# fulfillment orders themselves are read from the Admin API by the orders consumer.
FULFILLMENT_REQUEST_EVENT = "shopify.fulfillment_order_notification"
NOTIFICATION_KINDS = frozenset({"FULFILLMENT_REQUEST", "CANCELLATION_REQUEST"})
# The Kafka key of every notification of one connection: the body names no order, so a store's requests stay in
# order on one partition, with the state of the orders they made (consumers/fulfillment_requests.py).
FULFILLMENT_KEY = "fulfillment-service"

_NOTIFICATION_SCHEMA = FulfillmentOrderNotificationSchema()

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

    def read_fulfillment_notification(self, headers: Mapping[str, str], payload: Any) -> Delivery:
        """The callback body as an event: 422 when it is not `{"kind": "<text>"}`, 200-ignored for a kind
        not handled. Repeats are harmless (the consumer reads what is requested now), so without a delivery id
        each callback is its own event."""
        kind = _NOTIFICATION_SCHEMA.load(payload)["kind"]
        require_handled("Shopify", "notification kind", kind, NOTIFICATION_KINDS)
        metadata = delivery_metadata(headers, _DELIVERY_HEADERS)
        dedupe_key = metadata.get("webhook_id") or f"notification:{uuid.uuid4()}"
        return Delivery(FULFILLMENT_REQUEST_EVENT, dedupe_key, FULFILLMENT_KEY, {"kind": kind}, metadata)
