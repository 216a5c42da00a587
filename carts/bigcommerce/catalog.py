"""BigCommerce catalog listing (preview): `GET v3/catalog/variants?limit=250&page=N` until
`meta.pagination.total_pages` — every product has at least its base variant, so the variants are every SKU the
store sells. `inventory_level` is read as the stock lookup reads it (carts/bigcommerce/inventory.py).
Calls: 1 per 250 variants; a 429 is Retryable after `X-Rate-Limit-Time-Reset-Ms` (carts.bigcommerce.api).
"""
from __future__ import annotations

from typing import Any, Iterator

import requests

from carts.base import CartStock, ReadPage
from carts.bigcommerce.api import BigCommerceAPI
from carts.bigcommerce.inventory import levels_of, shown
from schemas.connection import Connection

PAGE_SIZE = 250  # the v3 catalog's largest limit


class BigCommerceCatalog:
    """CatalogLister for one BigCommerce connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._api = BigCommerceAPI(connection, timeout=timeout, session=session)

    def list_catalog(self, read_page: ReadPage) -> Iterator[list[CartStock]]:
        page, pages = 1, 1
        while page <= pages:
            answer = read_page(lambda: self._api.get("v3/catalog/variants", limit=PAGE_SIZE, page=page)) or {}
            variants = answer.get("data") or []
            yield _shown(variants)
            pagination = (answer.get("meta") or {}).get("pagination") or {}
            pages = int(pagination.get("total_pages") or (page + 1 if len(variants) == PAGE_SIZE else page))
            page += 1


def _shown(variants: list[dict[str, Any]]) -> list[CartStock]:
    skus = dict.fromkeys(variant["sku"] for variant in variants if variant.get("sku"))
    return [shown(sku, levels_of(variants, sku)) for sku in skus]
