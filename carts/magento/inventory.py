"""Magento stock: Inventory Management (MSI) source items at the connection's `source_code` (docs/magento.md §4).

One stock write for a SKU:
1. `GET V1/inventory/source-items` with `sku eq <sku>` and `source_code eq <source>` — is the product assigned to
   this source? — cached per connection, misses too (carts.skus). A SKU with no source item there is skipped
   (`not_in_cart`): writing one would assign the product to the source (or create an orphan source item for a SKU
   the catalog lacks), a merchandising decision cartbridge does not make.
2. `POST V1/inventory/source-items` `{"sourceItems": [{"sku", "source_code", "quantity", "status"}]}`: the
   quantity as an absolute value, and `status` 1 (in stock) or 0 (out of stock).
Backorders: MSI source items have no backorder flag — Magento keeps "Backorders" on the product's stock item
(store or product configuration). What cartbridge controls is the source item's status: sellable at zero (the item's
Backorder on, `stop_sales_at_zero` false) keeps status 1 at zero, so a store or product that allows backorders
keeps selling; not sellable at zero writes status 0 at zero, which stops sales whatever the backorder setting.
`set_many` does the same for many SKUs: one lookup per 50 uncached SKUs (`sku in …`), then one save per 100
items; Magento validates a save whole, so a refused batch (400) is left to `set_stock`, SKU by SKU.
`read_stock` (preview) answers from the same lookup: the source item's quantity and status.
"""
from __future__ import annotations

from typing import Any

import requests

from carts.base import CartStock, StockLevel, StockResult
from carts.magento.api import MagentoAPI
from carts.skus import SkuCache, chunks
from outbound.errors import Permanent
from schemas.connection import Connection

LOOKUP_SKUS, SAVE_ITEMS = 50, 100  # per call
IN_STOCK, OUT_OF_STOCK = 1, 0
STATUS_WORDS = {IN_STOCK: "in_stock", OUT_OF_STOCK: "out_of_stock"}

SourceItem = tuple[int, int]  # (quantity, status) as the lookup saw it


def status_for(level: StockLevel) -> int:
    return IN_STOCK if level.quantity > 0 or level.sellable_at_zero else OUT_OF_STOCK


class MagentoStock:
    """StockWriter, BulkStockWriter and StockReader for one Magento connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None, cache_seconds: float = 300.0) -> None:
        self._api = MagentoAPI(connection, timeout=timeout, session=session)
        self._source = connection.source_code or "default"
        self._items: SkuCache[SourceItem | None] = SkuCache(cache_seconds)  # None: not assigned to the source

    def set_stock(self, level: StockLevel) -> StockResult:
        if self._items.lookup(level.sku, self._find) is None:
            return self._not_here(level.sku)
        self._save([level])
        return self._applied(level)

    def set_many(self, levels: list[StockLevel]) -> dict[str, StockResult]:
        self._look_up([level.sku for level in levels])
        known = [level for level in levels if self._items.lookup(level.sku, self._find) is not None]
        results = {level.sku: self._not_here(level.sku) for level in levels if level not in known}
        for batch in chunks(known, SAVE_ITEMS):
            try:
                self._save(list(batch))
            except Permanent as error:
                if error.status != 400:
                    raise
                continue  # Magento refuses the whole batch for one bad item: set_stock sorts it out
            results.update({level.sku: self._applied(level) for level in batch})
        return results

    def read_stock(self, skus: list[str]) -> dict[str, CartStock]:
        self._look_up(skus)
        return {sku: self._shown(sku) for sku in dict.fromkeys(skus)}

    @staticmethod
    def would_show(level: StockLevel) -> CartStock:
        return CartStock(level.sku, "found", level.quantity, STATUS_WORDS[status_for(level)])

    def _shown(self, sku: str) -> CartStock:
        item = self._items.lookup(sku, self._find)
        if item is None:
            return CartStock(sku, "not_in_cart", detail=f"SKU {sku} has no source item at source {self._source}")
        return CartStock(sku, "found", item[0], STATUS_WORDS.get(item[1]), detail=f"source {self._source}")

    def _not_here(self, sku: str) -> StockResult:
        return StockResult.skipped("not_in_cart", f"Magento has no source item for SKU {sku} at source "
                                                  f"{self._source}")

    def _applied(self, level: StockLevel) -> StockResult:
        self._items.put(level.sku, (level.quantity, status_for(level)))  # what read_stock now answers
        return StockResult(True, f"quantity={level.quantity}, status={status_for(level)} at source {self._source}")

    def _find(self, sku: str) -> SourceItem | None:
        return self._found(self._search([sku])).get(sku)

    def _look_up(self, skus: list[str]) -> None:
        for batch in chunks(self._items.missing(skus), LOOKUP_SKUS):
            found = self._found(self._search(list(batch)))
            for sku in batch:
                self._items.put(sku, found.get(sku))

    def _search(self, skus: list[str]) -> list[dict[str, Any]]:
        sku_filter = ("sku", skus[0], "eq") if len(skus) == 1 else ("sku", ",".join(skus), "in")
        return list(self._api.search("inventory/source-items", [[sku_filter], [("source_code", self._source, "eq")]]))

    @staticmethod
    def _found(items: list[dict[str, Any]]) -> dict[str, SourceItem]:
        return {item["sku"]: (int(float(item.get("quantity") or 0)), int(item.get("status") or 0))
                for item in items if item.get("sku")}

    def _save(self, levels: list[StockLevel]) -> None:
        body = {"sourceItems": [{"sku": level.sku, "source_code": self._source, "quantity": level.quantity,
                                 "status": status_for(level)} for level in levels]}
        response = self._api.request("POST", "inventory/source-items", json=body)
        if response.status_code == 404:
            raise Permanent("Magento answers 404 for inventory/source-items: Inventory Management (MSI) is not "
                            "enabled at this store, or the store URL is wrong", status=404, url=response.url)
