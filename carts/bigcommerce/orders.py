"""Reading one BigCommerce order as it is now: `v2/orders/{id}`, its `/products` and `/shipping_addresses`.

Called by the orders consumer for each reference event. 429 (with X-Rate-Limit-Time-Reset-Ms) and 5xx raise
Retryable from api.py, so the engine pauses the partition for the time BigCommerce asked and tries again.
"""
from __future__ import annotations

from typing import Any

import requests
from marshmallow import ValidationError

from carts.bigcommerce.api import BigCommerceAPI
from schemas.bigcommerce import BigCommerceOrderSchema
from schemas.connection import Connection
from schemas.order import CartOrder

PAGE_SIZE = 250  # v2 list endpoints default to 50 and allow 250

_ORDER_SCHEMA = BigCommerceOrderSchema()


class BigCommerceOrders:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._api = BigCommerceAPI(connection, timeout=timeout, session=session)

    def fetch_order(self, reference: dict[str, Any]) -> CartOrder | None:
        """The order a reference names, with its lines and ship-to; None if the store no longer has it."""
        order_id = _order_id(reference)
        order = self._api.get(f"v2/orders/{order_id}")
        if order is None:
            return None
        products = self._all(f"v2/orders/{order_id}/products")
        addresses = self._all(f"v2/orders/{order_id}/shipping_addresses")
        # The order resource names its sub-resources by URL; the schema reads the fetched lists in their place.
        return _ORDER_SCHEMA.load({**order, "products": products, "shipping_addresses": addresses})

    def _all(self, path: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._api.get(path, page=page, limit=PAGE_SIZE) or []  # 204 / 404: no (more) rows
            rows.extend(batch)
            if len(batch) < PAGE_SIZE:
                return rows
            page += 1


def _order_id(reference: dict[str, Any]) -> str:
    order_id = str(reference.get("order_id") or "")
    if not order_id.isdigit():  # it goes into a URL path
        raise ValidationError({"order_id": ["must be a BigCommerce order id (digits)"]})
    return order_id
