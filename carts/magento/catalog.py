"""Magento catalog listing (preview): `GET V1/products` with search criteria — enabled products (`status` 1) that
hold stock of their own (`type_id` not configurable, bundle or grouped: those are sold as their children, which
are listed themselves) — 100 a page in `entity_id` order, stopping by `total_count` (carts.magento.api).
Magento's product list carries no stock (`extension_attributes.stock_item` is filled only for a single product,
magento/magento2#36533), so a listed SKU has no quantity: the report shows it as unknown rather than spend a
source-item lookup per page. Calls: 1 per 100 products.
"""
from __future__ import annotations

from typing import Iterator

import requests

from carts.base import CartStock, ReadPage
from carts.magento.api import PAGE_SIZE, MagentoAPI
from schemas.connection import Connection

ENABLED = ("status", "1", "eq")
OWN_STOCK = ("type_id", "configurable,bundle,grouped", "nin")


class MagentoCatalog:
    """CatalogLister for one Magento connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._api = MagentoAPI(connection, timeout=timeout, session=session)

    def list_catalog(self, read_page: ReadPage) -> Iterator[list[CartStock]]:
        for products in self._api.search_pages("products", [[ENABLED], [OWN_STOCK]], sort=[("entity_id", "ASC")],
                                               page_size=PAGE_SIZE, read_page=read_page):
            skus = dict.fromkeys(product["sku"] for product in products if product.get("sku"))
            yield [CartStock(sku, "found", detail="Magento's product list carries no stock") for sku in skus]
