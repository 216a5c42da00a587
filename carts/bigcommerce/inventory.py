"""BigCommerce stock: Management API v3 (reference/cart-apis.md §3.2).

One stock write for a SKU:
1. `GET v3/catalog/variants?sku=<sku>` — does the store sell it? — cached per connection, misses too
   (carts.skus), so an unknown SKU is a counted skip, not a 422 per stock change.
2. `PUT v3/inventory/adjustments/absolute` with
   `{"reason": "Infoplus orderable quantity", "items": [{"location_id": <id>, "sku": <sku>, "quantity": <n>}]}`.
   `location_id` is the connection's (default 1, the location every store starts with).
`set_many` does the same for many SKUs: `GET v3/catalog/variants?sku:in=A,B,…` for up to 50 uncached SKUs,
then one absolute adjustment with up to 1000 items (BigCommerce takes 2000; a refused batch is retried SKU by
SKU, so one bad item cannot hold back the rest).
Backorder: the Management API has no per-item "sell at zero" switch we can rely on (reference notes, [U]), so
nothing is sent for it; the store's own out-of-stock setting applies. A 429 is Retryable after
`X-Rate-Limit-Time-Reset-Ms` (carts.bigcommerce.api).
"""
from __future__ import annotations

import requests

from carts.base import CartStock, StockLevel, StockResult
from carts.bigcommerce.api import BigCommerceAPI
from carts.skus import SkuCache, chunks
from outbound.errors import Permanent
from schemas.connection import Connection

DEFAULT_LOCATION = 1
LOOKUP_SKUS, LOOKUP_LIMIT, ADJUST_ITEMS = 50, 250, 1000  # per call
REASON = "Infoplus orderable quantity"


class BigCommerceStock:
    """StockWriter for one BigCommerce connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None, cache_seconds: float = 300.0) -> None:
        self._api = BigCommerceAPI(connection, timeout=timeout, session=session)
        self._location = _location(connection)
        # SKU -> each matching variant's inventory_level as the lookup saw it; () = the store does not sell it
        self._known: SkuCache[tuple[int, ...]] = SkuCache(cache_seconds)

    def set_stock(self, level: StockLevel) -> StockResult:
        if not self._known.lookup(level.sku, self._exists):
            return StockResult.skipped("not_in_cart", f"no BigCommerce variant has SKU {level.sku}")
        try:
            self._adjust(level)
        except Permanent as error:
            if error.status != 422:
                raise
            self._known.forget(level.sku)  # the variant may have been deleted since we looked
            if self._known.lookup(level.sku, self._exists):
                raise
            return StockResult.skipped("not_in_cart", f"SKU {level.sku} disappeared from BigCommerce")
        return self._applied(level)

    def read_stock(self, skus: list[str]) -> dict[str, CartStock]:
        """What BigCommerce shows now (preview): the variant lookup's `inventory_level` — the store's total over
        its locations (one location: that location's) — so a cached SKU costs no call. No sell-at-zero setting
        is read: cartbridge writes none."""
        for batch in chunks(self._known.missing(skus), LOOKUP_SKUS):
            self._find_many(list(batch))
        return {sku: self._shown(sku) for sku in dict.fromkeys(skus)}

    @staticmethod
    def would_show(level: StockLevel) -> CartStock:
        return CartStock(level.sku, "found", level.quantity)

    def _shown(self, sku: str) -> CartStock:
        return shown(sku, self._known.lookup(sku, self._exists))

    def set_many(self, levels: list[StockLevel]) -> dict[str, StockResult]:
        for batch in chunks(self._known.missing([level.sku for level in levels]), LOOKUP_SKUS):
            self._find_many(list(batch))
        known = [level for level in levels if self._known.lookup(level.sku, self._exists)]
        results = {level.sku: StockResult.skipped("not_in_cart", f"no BigCommerce variant has SKU {level.sku}")
                   for level in levels if level not in known}
        for batch in chunks(known, ADJUST_ITEMS):
            try:
                self._adjust(*batch)
            except Permanent as error:
                if error.status != 422:
                    raise
                continue  # one bad item refuses the whole batch: set_stock sorts it out, SKU by SKU
            results.update({level.sku: self._applied(level) for level in batch})
        return results

    def _applied(self, level: StockLevel) -> StockResult:
        known = self._known.lookup(level.sku, self._exists)
        self._known.put(level.sku, tuple(level.quantity for _ in known))  # what read_stock now answers
        return StockResult(True, f"quantity={level.quantity} at location {self._location} (absolute)")

    def _exists(self, sku: str) -> tuple[int, ...]:
        found = (self._api.get("v3/catalog/variants", sku=sku) or {}).get("data") or []
        return levels_of(found, sku)

    def _find_many(self, skus: list[str]) -> None:
        answer = self._api.get("v3/catalog/variants", **{"sku:in": ",".join(skus), "limit": LOOKUP_LIMIT}) or {}
        found = answer.get("data") or []
        complete = len(found) < LOOKUP_LIMIT  # a full page may have cut some off
        for sku in skus:
            levels = levels_of(found, sku)
            if levels or complete:
                self._known.put(sku, levels)

    def _adjust(self, *levels: StockLevel) -> None:
        items = [{"location_id": self._location, "sku": level.sku, "quantity": level.quantity} for level in levels]
        response = self._api.request("PUT", "v3/inventory/adjustments/absolute",
                                     json={"reason": REASON, "items": items})
        if response.status_code == 404:
            raise Permanent("BigCommerce has no inventory adjustments API at this store URL", status=404,
                            url=response.url)


def shown(sku: str, levels: tuple[int, ...]) -> CartStock:
    """What BigCommerce shows for a SKU, from its variants' `inventory_level` (looked up, or listed:
    carts/bigcommerce/catalog.py)."""
    if not levels:
        return CartStock(sku, "not_in_cart", detail=f"no BigCommerce variant has SKU {sku}")
    return CartStock(sku, "found", levels[0] if len(set(levels)) == 1 else None,
                     detail=f"inventory_level={', '.join(map(str, levels))}")


def levels_of(variants: list[dict], sku: str) -> tuple[int, ...]:
    return tuple(int(v.get("inventory_level") or 0) for v in variants if v.get("sku") == sku)


def _location(connection: Connection) -> int:
    text = connection.location_id or str(DEFAULT_LOCATION)
    if not text.isdigit():
        raise Permanent(f"connection {connection.id}: BigCommerce location_id must be a number, not {text!r}")
    return int(text)
