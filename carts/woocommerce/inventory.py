"""WooCommerce stock: REST v3 (reference/cart-apis.md §2.2).

One stock write for a SKU:
1. `GET products?sku=<sku>` — with `sku`, WooCommerce searches variations too (`type: "variation"` with
   its `parent_id`) — cached per connection, misses too (carts.skus).
2. `PUT products/{id}` or `PUT products/{parent_id}/variations/{id}` with
   `{"manage_stock": true, "stock_quantity": <n>, "backorders": "notify" | "no"}`: `notify` (sell at zero and
   tell the shopper it is on backorder) when the item has Backorder on and the connection does not stop
   sales at zero, else `no`. `manage_stock` must be true or WooCommerce ignores the other two.
The lookup's answer carries `manage_stock`, `stock_quantity` and `backorders`: `read_stock` (preview) answers
from it, with no call of its own. `set_many` does the same for many SKUs: `GET products?sku=A,B,…&per_page=100` for up to 50 uncached SKUs, then
`POST products/batch` / `POST products/{parent_id}/variations/batch` with `{"update": [...]}` (100 per call;
WooCommerce answers each item on its own, so one refused item does not hold back the others).
Core WooCommerce has no rate limit; a host's 429/503 with Retry-After is Retryable (outbound.http).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import requests

from carts.base import CartStock, StockLevel, StockResult
from carts.skus import SkuCache, chunks
from carts.woocommerce.api import WooCommerceAPI
from schemas.connection import Connection

LOOKUP_SKUS, PER_PAGE, BATCH = 50, 100, 100  # per call (WooCommerce's maximums for the last two)


def backorders_for(level: StockLevel) -> str:
    return "notify" if level.sellable_at_zero else "no"


def stock_body(level: StockLevel) -> dict:
    return {"manage_stock": True, "stock_quantity": level.quantity, "backorders": backorders_for(level)}


@dataclass(frozen=True)
class Listed:
    """One product or variation with the SKU, as the lookup saw it (what `read_stock` answers from)."""

    path: str  # products/{id} or products/{parent_id}/variations/{id}
    stock_quantity: int | None  # None unless manage_stock is on: WooCommerce does not count it
    backorders: str


def shown(sku: str, products: Sequence[Listed]) -> CartStock:
    """What WooCommerce shows for a SKU, from its products (looked up, or listed: carts/woocommerce/catalog.py)."""
    if not products:
        return CartStock(sku, "not_in_cart", detail=f"no WooCommerce product or variation has SKU {sku}")
    quantities, policies = {item.stock_quantity for item in products}, {item.backorders for item in products}
    return CartStock(sku, "found", quantities.pop() if len(quantities) == 1 else None,
                     policies.pop() if len(policies) == 1 else "mixed",
                     detail=", ".join(f"{item.path}: stock_quantity={item.stock_quantity}"
                                      f"{'' if item.stock_quantity is not None else ' (manage_stock off)'}, "
                                      f"backorders={item.backorders}" for item in products))


def listed(product: dict, path: str | None = None) -> Listed:
    managed = product.get("manage_stock") is True  # "parent" (a variation following its product) counts as not
    return Listed(path or _path(product), product.get("stock_quantity") if managed else None,
                  product.get("backorders") or "no")


class WooCommerceStock:
    """StockWriter (and BulkStockWriter) for one WooCommerce connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None, cache_seconds: float = 300.0) -> None:
        self._api = WooCommerceAPI(connection, timeout=timeout, session=session)
        self._paths: SkuCache[tuple[Listed, ...]] = SkuCache(cache_seconds)

    def set_stock(self, level: StockLevel) -> StockResult:
        paths = self._lookup(level.sku)
        if not paths:
            return StockResult.skipped("not_in_cart", f"no WooCommerce product or variation has SKU {level.sku}")
        if not self._put_all(paths, stock_body(level)):  # deleted since we cached it: look it up once more
            self._paths.forget(level.sku)
            paths = self._lookup(level.sku)
            if not paths or not self._put_all(paths, stock_body(level)):
                return StockResult.skipped("not_in_cart", f"SKU {level.sku} disappeared from WooCommerce")
        return self._applied(level)

    def read_stock(self, skus: list[str]) -> dict[str, CartStock]:
        """What WooCommerce shows now (preview): the write path's own lookup, so a cached SKU costs no call."""
        for batch in chunks(self._paths.missing(skus), LOOKUP_SKUS):
            self._find_many(list(batch))
        return {sku: self._shown(sku) for sku in dict.fromkeys(skus)}

    @staticmethod
    def would_show(level: StockLevel) -> CartStock:
        return CartStock(level.sku, "found", level.quantity, backorders_for(level))

    def _shown(self, sku: str) -> CartStock:
        return shown(sku, self._paths.lookup(sku, self._find))

    def _lookup(self, sku: str) -> tuple[str, ...]:
        return tuple(item.path for item in self._paths.lookup(sku, self._find))

    def set_many(self, levels: list[StockLevel]) -> dict[str, StockResult]:
        for batch in chunks(self._paths.missing([level.sku for level in levels]), LOOKUP_SKUS):
            self._find_many(list(batch))
        results: dict[str, StockResult] = {}
        updates: dict[str, list[tuple[str, dict]]] = defaultdict(list)  # batch endpoint -> (sku, update)
        for level in levels:
            paths = self._lookup(level.sku)
            if not paths:
                results[level.sku] = StockResult.skipped("not_in_cart", f"no WooCommerce product or variation "
                                                                        f"has SKU {level.sku}")
            for path in paths:
                endpoint, item_id = path.rsplit("/", 1)
                updates[f"{endpoint}/batch"].append((level.sku, {"id": int(item_id), **stock_body(level)}))
        updated = self._post_batches(updates)
        by_sku = {level.sku: level for level in levels}
        for sku in {sku for entries in updates.values() for sku, _ in entries}:
            if updated[sku] == len(self._lookup(sku)):  # every product with the SKU took it
                results[sku] = self._applied(by_sku[sku])
        return results

    def _applied(self, level: StockLevel) -> StockResult:
        """Say what was sent, and let the cache say what the cart now shows (read_stock answers from it)."""
        listed = self._paths.lookup(level.sku, self._find)
        self._paths.put(level.sku, tuple(Listed(item.path, level.quantity, backorders_for(level)) for item in listed))
        return StockResult(True, f"stock_quantity={level.quantity}, backorders={backorders_for(level)} "
                                 f"({', '.join(item.path for item in listed)})")

    def _find(self, sku: str) -> tuple[Listed, ...]:
        found = self._api.get("products", sku=sku) or []
        return tuple(listed(product) for product in found if product.get("sku") == sku)

    def _find_many(self, skus: list[str]) -> None:
        found = self._api.get("products", sku=",".join(skus), per_page=PER_PAGE) or []
        paths: dict[str, tuple[Listed, ...]] = defaultdict(tuple)
        for product in found:
            if product.get("sku") in skus:
                paths[product["sku"]] += (listed(product),)
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


def _path(product: dict) -> str:
    if product.get("type") == "variation" and product.get("parent_id"):
        return f"products/{product['parent_id']}/variations/{product['id']}"
    return f"products/{product['id']}"
