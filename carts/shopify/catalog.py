"""Shopify catalog listing (preview): every variant with a SKU, `productVariants(first: 250, after:)` page by page,
inputs as variables, with what the stock lookup reads too — `inventoryPolicy`, `tracked` and `available` at the
connection's location — so a listed SKU reads like a looked-up one (carts/shopify/inventory.py).

Requested cost per call: 2 + 250 x 3 (inventory item, level, quantities) = 752 points, under Shopify's
1,000-point single-query limit; a THROTTLED answer is Retryable with the wait the bucket needs (ShopifyAdmin).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

import requests

from carts.base import CartStock, ReadPage
from carts.shopify.admin import ShopifyAdmin
from carts.shopify.inventory import Variant, shown, variant_of
from outbound.errors import Permanent
from schemas.connection import Connection

PAGE_SIZE = 250  # Shopify's largest `first`

LIST_VARIANTS = """
query CatalogVariants($first: Int!, $after: String, $location: ID!) {
  productVariants(first: $first, after: $after) {
    nodes {
      id sku inventoryPolicy
      inventoryItem {
        id tracked
        inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""


class ShopifyCatalog:
    """CatalogLister for one Shopify connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._admin = ShopifyAdmin(connection, timeout=timeout, session=session)
        self._location = connection.location_id

    def list_catalog(self, read_page: ReadPage) -> Iterator[list[CartStock]]:
        if not self._location:
            raise Permanent("connection has no location_id: Shopify stock is listed per location")
        after = None
        while True:
            answer = read_page(lambda: self._page(after))
            yield self._shown(answer.get("nodes") or [])
            info = answer.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")
            if not after:
                raise Permanent("Shopify answered hasNextPage without an endCursor", status=200, body=info)

    def _page(self, after: str | None) -> dict[str, Any]:
        variables = {"first": PAGE_SIZE, "after": after, "location": self._location}
        return self._admin.graphql(LIST_VARIANTS, variables).get("productVariants") or {}

    def _shown(self, nodes: list[dict[str, Any]]) -> list[CartStock]:
        by_sku: dict[str, list[Variant]] = defaultdict(list)  # SKUs are not unique in Shopify
        for node in nodes:
            if node.get("sku"):
                by_sku[node["sku"]].append(variant_of(node))
        return [shown(sku, variants, self._location) for sku, variants in by_sku.items()]
