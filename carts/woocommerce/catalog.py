"""WooCommerce catalog listing (preview): `GET products?per_page=100&orderby=id&order=asc` page by page (until
`X-WP-TotalPages`), and for each variable product `GET products/{id}/variations?per_page=100` — a variable product
is sold as its variations; its own SKU, like a grouped or external product's, holds no stock of its own. Each
listed product reads like a looked-up one (manage_stock, stock_quantity, backorders: carts/woocommerce/inventory.py).
Calls: 1 per 100 products, plus 1 per variable product (more for one with over 100 variations).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Iterator

import requests

from carts.base import CartStock, ReadPage
from carts.woocommerce.api import WooCommerceAPI
from carts.woocommerce.inventory import Listed, listed, shown
from schemas.connection import Connection

BY_ID = {"orderby": "id", "order": "asc"}  # a product added while we page does not shift the pages
NO_STOCK_OF_THEIR_OWN = frozenset({"variable", "grouped", "external"})


class WooCommerceCatalog:
    """CatalogLister for one WooCommerce connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._api = WooCommerceAPI(connection, timeout=timeout, session=session)

    def list_catalog(self, read_page: ReadPage) -> Iterator[list[CartStock]]:
        for products in self._api.pages("products", BY_ID, read_page):
            yield _shown((product, None) for product in products if product.get("type") not in NO_STOCK_OF_THEIR_OWN)
            for product in products:
                if product.get("type") == "variable":
                    yield from self._variations(product["id"], read_page)

    def _variations(self, product_id: int, read_page: ReadPage) -> Iterator[list[CartStock]]:
        for variations in self._api.pages(f"products/{product_id}/variations", BY_ID, read_page):
            yield _shown((v, f"products/{product_id}/variations/{v['id']}") for v in variations)


def _shown(products: Iterable[tuple[dict, str | None]]) -> list[CartStock]:
    """(product, path or None) -> what the cart shows per SKU; a product without a SKU cannot match an item."""
    by_sku: dict[str, list[Listed]] = defaultdict(list)
    for product, path in products:
        if product.get("sku"):
            by_sku[product["sku"]].append(listed(product, path))
    return [shown(sku, found) for sku, found in by_sku.items()]
