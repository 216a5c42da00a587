"""Magento orders as `cart.order` events. Magento Open Source sends no webhooks, so orders arrive by polling
(consumers/magento_orders.py); this module builds their events, and answers any POST to a Magento connection's
webhook URL 401: nothing Magento could send is signed with a secret cartbridge knows (docs/magento.md §5 says what
Adobe Commerce webhooks would take).

A polled order version is identified by what it carries — the order's `entity_id` and its `updated_at` — within the
connection, so the same version always has the same event id, whichever pass listed it.
"""
from __future__ import annotations

from typing import Any, Mapping

from carts.base import ORDER_EVENT, Delivery, IgnoredDelivery
from schemas.connection import Connection
from schemas.magento import MagentoOrderSchema
from signing import SignatureError

_ORDER_SCHEMA = MagentoOrderSchema()


def order_delivery(payload: Any, metadata: dict[str, Any]) -> Delivery:
    """The event for one Magento order snapshot; raises ValidationError."""
    order = _ORDER_SCHEMA.load(payload)
    return Delivery(ORDER_EVENT, f"order:{order.cart_order_id}:{order.updated_at}", order.cart_order_id,
                    order.to_dict(), metadata)


class MagentoDeliveries:
    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        raise SignatureError("Magento connections take no webhooks: orders are polled (magento-orders)")

    def read_delivery(self, headers: Mapping[str, str], payload: Any, connection: Connection) -> Delivery:
        raise IgnoredDelivery("Magento orders are polled, not pushed")  # never reached: verify refuses first
