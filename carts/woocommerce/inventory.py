"""WooCommerce stock: REST v3 (reference/cart-apis.md §2.2).

One stock write for a SKU:
1. `GET products?sku=<sku>` — with `sku`, WooCommerce searches variations too (`type: "variation"` with
   its `parent_id`) — cached per connection, misses too (carts.skus).
2. `PUT products/{id}` or `PUT products/{parent_id}/variations/{id}` with
   `{"manage_stock": true, "stock_quantity": <n>, "backorders": "notify" | "no"}`: `notify` (sell at zero and
   tell the shopper it is on backorder) when the item has Backorder on and the connection does not stop
   sales at zero, else `no`. `manage_stock` must be true or WooCommerce ignores the other two.
`set_many` does the same for many SKUs: `GET products?sku=A,B,…&per_page=100` for up to 50 uncached SKUs, then
`POST products/batch` / `POST products/{parent_id}/variations/batch` with `{"update": [...]}` (100 per call;
WooCommerce answers each item on its own, so one refused item does not hold back the others).
Core WooCommerce has no rate limit; a host's 429/503 with Retry-After is Retryable (outbound.http).
"""
from __future__ import annotations

from collections import defaultdict

import requests

from carts.base import StockLevel, StockResult
from carts.skus import SkuCache, chunks
from carts.woocommerce.api import WooCommerceAPI
from schemas.connection import Connection

LOOKUP_SKUS, PER_PAGE, BATCH = 50, 100, 100  # per call (WooCommerce's maximums for the last two)


def backorders_for(level: StockLevel) -> str:
    return "notify" if level.sellable_at_zero else "no"


def stock_body(level: StockLevel) -> dict:
    return {"manage_stock": True, "stock_quantity": level.quantity, "backorders": backorders_for(level)}


class WooCommerceStock:
    """StockWriter (and BulkStockWriter) for one WooCommerce connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None, cache_seconds: float = 300.0) -> None:
        self._api = WooCommerceAPI(connection, timeout=timeout, session=session)
        self._paths: SkuCache[tuple[str, ...]] = SkuCache(cache_seconds)

    def set_stock(self, level: StockLevel) -> StockResult:
        paths = self._paths.lookup(level.sku, self._find)
        if not paths:
            return StockResult.skipped("not_in_cart", f"no WooCommerce product or variation has SKU {level.sku}")
        if not self._put_all(paths, stock_body(level)):  # deleted since we cached it: look it up once more
            self._paths.forget(level.sku)
            paths = self._paths.lookup(level.sku, self._find)
            if not paths or not self._put_all(paths, stock_body(level)):
                return StockResult.skipped("not_in_cart", f"SKU {level.sku} disappeared from WooCommerce")
        return _applied(level, paths)

    def set_many(self, levels: list[StockLevel]) -> dict[str, StockResult]:
        for batch in chunks(self._paths.missing([level.sku for level in levels]), LOOKUP_SKUS):
            self._find_many(list(batch))
        results: dict[str, StockResult] = {}
        updates: dict[str, list[tuple[str, dict]]] = defaultdict(list)  # batch endpoint -> (sku, update)
        for level in levels:
            paths = self._paths.lookup(level.sku, self._find)
            if not paths:
                results[level.sku] = StockResult.skipped("not_in_cart", f"no WooCommerce product or variation "
                                                                        f"has SKU {level.sku}")
            for path in paths:
                endpoint, item_id = path.rsplit("/", 1)
                updates[f"{endpoint}/batch"].append((level.sku, {"id": int(item_id), **stock_body(level)}))
        updated = self._post_batches(updates)
        by_sku = {level.sku: level for level in levels}
        for sku in {sku for entries in updates.values() for sku, _ in entries}:
            if updated[sku] == len(self._paths.lookup(sku, self._find)):  # every product with the SKU took it
                results[sku] = _applied(by_sku[sku], self._paths.lookup(sku, self._find))
        return results

    def _find(self, sku: str) -> tuple[str, ...]:
        found = self._api.get("products", sku=sku) or []
        return tuple(_path(product) for product in found if product.get("sku") == sku)

    def _find_many(self, skus: list[str]) -> None:
        found = self._api.get("products", sku=",".join(skus), per_page=PER_PAGE) or []
        paths: dict[str, tuple[str, ...]] = defaultdict(tuple)
        for product in found:
            if product.get("sku") in skus:
                paths[product["sku"]] += (_path(product),)
        for sku in skus:
            if sku in paths or len(found) < PER_PAGE:  # a full page may have cut some off: no miss proven
                self._paths.put(sku, paths.get(sku, ()))

    def _put_all(self, paths: tuple[str, ...], body: dict) -> bool:
        """PUT to every path; False when one answered 404 (the product is gone)."""
        return all(self._api.request("PUT", path, json=body).status_code != 404 for path in paths)

    def _post_batches(self, updates: dict[str, list[tuple[str, dict]]]) -> dict[str, int]:
        """SKU -> how many of its products accepted the update."""
        accepted: dict[str, int] = defaultdict(int)
        for endpoint, entries in updates.items():
            for batch in chunks(entries, BATCH):
                sku_by_id = {update["id"]: sku for sku, update in batch}
                answer = self._api.request("POST", endpoint, json={"update": [u for _, u in batch]}).json()
                for item in (answer or {}).get("update") or []:
                    if "error" not in item and item.get("id") in sku_by_id:
                        accepted[sku_by_id[item["id"]]] += 1
        return accepted


def _applied(level: StockLevel, paths: tuple[str, ...]) -> StockResult:
    return StockResult(True, f"stock_quantity={level.quantity}, backorders={backorders_for(level)} "
                             f"({', '.join(paths)})")


def _path(product: dict) -> str:
    if product.get("type") == "variation" and product.get("parent_id"):
        return f"products/{product['parent_id']}/variations/{product['id']}"
    return f"products/{product['id']}"
