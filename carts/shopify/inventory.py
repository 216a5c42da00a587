"""Shopify stock: Admin GraphQL, inputs as variables (reference/cart-apis.md §1.2).

One stock write for a SKU:
1. `productVariants(first: …, query: "sku:\\"<sku>\\"")` -> the variants whose SKU is exactly that one, with
   their inventory item, product, `inventoryPolicy` and `available` at the connection's location (cached per
   connection, misses too; see carts.skus). `read_stock` (preview) answers from this same lookup.
2. `inventorySetQuantities` with `name: "available"`, `reason: "correction"` and, for each tracked variant,
   `{inventoryItemId, locationId: <connection location_id>, quantity, changeFromQuantity: null}` (null: an
   absolute set from the system of record, no compare-and-swap), under `@idempotent(key:)` derived from the
   change, so a retried call is applied once.
3. `productVariantsBulkUpdate` setting `inventoryPolicy` — `CONTINUE` (keep selling at zero) when the item has
   Backorder on and the connection does not stop sales at zero, else `DENY` — only for variants whose cached
   policy differs.
`set_many` does the same for many SKUs: one lookup for up to 50 uncached SKUs (`sku:"A" OR sku:"B" …`), one
`inventorySetQuantities` for up to 100 of them.
Throttling (HTTP 429, or 200 with THROTTLED) is Retryable with the wait the cost bucket needs (ShopifyAdmin).
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any, Sequence

import requests

from carts.base import CartStock, StockLevel, StockResult
from carts.shopify.admin import ShopifyAdmin
from carts.skus import SkuCache, chunks
from outbound.errors import Permanent, Retryable
from schemas.connection import Connection

FIND_VARIANTS = """
query VariantsBySku($query: String!, $first: Int!, $location: ID!) {
  productVariants(first: $first, query: $query) {
    nodes {
      id sku inventoryPolicy product { id }
      inventoryItem {
        id tracked
        inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
      }
    }
    pageInfo { hasNextPage }
  }
}"""

SET_AVAILABLE = """
mutation SetAvailable($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""

SET_POLICY = """
mutation SetInventoryPolicy($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id inventoryPolicy }
    userErrors { code field message }
  }
}"""

_KEYS = uuid.UUID("4d7e0c2a-5b1f-4f0e-8a57-3c9d2e61b0a4")
_VARIANT_GONE = "INVALID_INVENTORY_ITEM"  # deleted since we cached it: look it up again
_NOT_STOCKED = "ITEM_NOT_STOCKED_AT_LOCATION"
_BUSY = "IDEMPOTENCY_CONCURRENT_REQUEST"
# Per call. A lookup's cost is about 2 points per variant asked for (`first`), out of a bucket of 1000-2000
# refilled at 100+/s: ask for what the SKUs can match, not the 250 maximum.
LOOKUP_SKUS, VARIANTS_PER_SKU, SET_QUANTITIES = 50, 2, 100
SINGLE_LOOKUP_FIRST = 5  # one SKU: a few variants may share it


@dataclass(frozen=True)
class Variant:
    id: str
    product_id: str
    inventory_item_id: str
    policy: str
    tracked: bool
    available: int | None = None  # at the connection's location; None: not stocked there


_Target = tuple[StockLevel, list[Variant]]  # one SKU and its tracked variants


class _VariantGone(Exception):
    """The cached inventory item no longer exists in the shop."""


def sku_query(skus: list[str]) -> str:
    """Shopify search syntax for exact SKU terms (quotes keep spaces and colons inside a value)."""
    return " OR ".join('sku:"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"' for sku in skus)


def policy_for(level: StockLevel) -> str:
    return "CONTINUE" if level.sellable_at_zero else "DENY"


class ShopifyStock:
    """StockWriter (and BulkStockWriter) for one Shopify connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None, cache_seconds: float = 300.0) -> None:
        self._admin = ShopifyAdmin(connection, timeout=timeout, session=session)
        self._location = connection.location_id
        self._variants: SkuCache[tuple[Variant, ...]] = SkuCache(cache_seconds)

    def set_stock(self, level: StockLevel) -> StockResult:
        self._check_location()
        try:
            return self._write(level)
        except _VariantGone:
            self._variants.forget(level.sku)
            return self._write(level)  # once more with a fresh lookup; a second miss is a Permanent error

    def set_many(self, levels: list[StockLevel]) -> dict[str, StockResult]:
        self._check_location()
        for batch in chunks(self._variants.missing([level.sku for level in levels]), LOOKUP_SKUS):
            self._find_many(list(batch))
        results, targets = {}, []
        for level in levels:
            found = self._targets(level)
            if isinstance(found, StockResult):
                results[level.sku] = found
            else:
                targets.append(found)
        for batch in chunks(targets, SET_QUANTITIES):
            if self._mutate_available(list(batch)):
                continue  # refused: left to set_stock, SKU by SKU, which tells the reasons apart
            results.update({level.sku: self._finish(level, variants) for level, variants in batch})
        return results

    def read_stock(self, skus: list[str]) -> dict[str, CartStock]:
        """What Shopify shows now (preview): the write path's own lookup, so a cached SKU costs no call."""
        self._check_location()
        for batch in chunks(self._variants.missing(skus), LOOKUP_SKUS):
            self._find_many(list(batch))
        return {sku: self._shown(sku) for sku in dict.fromkeys(skus)}

    @staticmethod
    def would_show(level: StockLevel) -> CartStock:
        return CartStock(level.sku, "found", level.quantity, policy_for(level))

    def _shown(self, sku: str) -> CartStock:
        return shown(sku, self._variants.lookup(sku, self._find), self._location)

    def _check_location(self) -> None:
        if not self._location:
            raise Permanent("connection has no location_id: Shopify stock is set per location")

    def _write(self, level: StockLevel) -> StockResult:
        found = self._targets(level)
        if isinstance(found, StockResult):
            return found
        errors = self._mutate_available([found])
        if errors:
            return self._refused(level, errors)
        return self._finish(*found)

    def _targets(self, level: StockLevel) -> _Target | StockResult:
        variants = self._variants.lookup(level.sku, self._find)
        if not variants:
            return StockResult.skipped("not_in_cart", f"no Shopify variant has SKU {level.sku}")
        tracked = [v for v in variants if v.tracked]
        if not tracked:
            return StockResult.skipped("not_tracked", f"Shopify does not track inventory for SKU {level.sku}")
        return level, tracked

    def _finish(self, level: StockLevel, variants: list[Variant]) -> StockResult:
        """After `available` is set: bring the backorder policy in line, and say what was sent."""
        wanted = policy_for(level)
        self._set_policy(variants, wanted)
        written = {v.id for v in variants}  # the cache now says what the cart shows (read_stock answers from it)
        cached = self._variants.lookup(level.sku, self._find)
        self._variants.put(level.sku, tuple(replace(v, policy=wanted, available=level.quantity)
                                            if v.id in written else v for v in cached))
        return StockResult(True, f"available={level.quantity} at {self._location}, "
                                 f"inventoryPolicy={wanted} ({len(variants)} variant(s))")

    # -- lookup ----------------------------------------------------------------------------------------------
    def _find(self, sku: str) -> tuple[Variant, ...]:
        found = self._query_variants([sku], SINGLE_LOOKUP_FIRST)
        if sku not in found and found[None]:  # cut off before an exact match: ask for all of them
            found = self._query_variants([sku], 250)
        return found.get(sku, ())

    def _find_many(self, skus: list[str]) -> None:
        found = self._query_variants(skus, min(250, VARIANTS_PER_SKU * len(skus)))
        for sku in skus:
            if sku in found or not found.get(None):  # a truncated answer proves no miss
                self._variants.put(sku, found.get(sku, ()))

    def _query_variants(self, skus: list[str], first: int) -> dict[Any, Any]:
        """SKU -> its variants (exact matches: Shopify's search is fuzzy); key None is True when truncated."""
        data = self._admin.graphql(FIND_VARIANTS, {"query": sku_query(skus), "first": first,
                                                   "location": self._location})
        answer = data.get("productVariants") or {}
        found: dict[Any, Any] = defaultdict(tuple)
        for node in answer.get("nodes") or []:
            if node.get("sku") in skus:
                found[node["sku"]] += (variant_of(node),)
        found[None] = bool((answer.get("pageInfo") or {}).get("hasNextPage"))
        return found

    # -- quantity --------------------------------------------------------------------------------------------
    def _mutate_available(self, targets: list[_Target]) -> list[dict]:
        """Set `available` for every target in one call; returns Shopify's userErrors (empty when applied)."""
        quantities = [{"inventoryItemId": v.inventory_item_id, "locationId": self._location,
                       "quantity": level.quantity, "changeFromQuantity": None}
                      for level, variants in targets for v in variants]
        variables = {"input": {"name": "available", "reason": "correction", "quantities": quantities},
                     "idempotencyKey": self._idempotency_key(targets)}
        data = self._admin.graphql(SET_AVAILABLE, variables)
        return (data.get("inventorySetQuantities") or {}).get("userErrors") or []

    def _refused(self, level: StockLevel, errors: list[dict]) -> StockResult:
        codes = {error.get("code") for error in errors}
        if _VARIANT_GONE in codes:
            raise _VariantGone()
        if _NOT_STOCKED in codes:
            return StockResult.skipped("not_stocked", f"SKU {level.sku} is not stocked at location "
                                                      f"{self._location} in Shopify")
        if _BUSY in codes:
            raise Retryable("Shopify is still applying the same change", retry_after=1.0, body=errors)
        raise Permanent("Shopify refused inventorySetQuantities", status=200, body=errors)

    def _idempotency_key(self, targets: list[_Target]) -> str:
        # Same changes to the same items -> same key; a re-lookup that finds other items gets another key.
        parts = sorted(f"{level.change_id}|{v.inventory_item_id}|{level.quantity}"
                       for level, variants in targets for v in variants)
        return str(uuid.uuid5(_KEYS, f"{self._location}|" + ",".join(parts)))

    # -- backorder policy ------------------------------------------------------------------------------------
    def _set_policy(self, variants: list[Variant], wanted: str) -> bool:
        """Bring `inventoryPolicy` in line with the backorder rule; True when something changed."""
        by_product: dict[str, list[Variant]] = defaultdict(list)
        for variant in variants:
            if variant.policy != wanted:  # look before you write: most updates leave the policy alone
                by_product[variant.product_id].append(variant)
        for product_id, stale in by_product.items():
            self._update_policy(product_id, stale, wanted)
        return bool(by_product)

    def _update_policy(self, product_id: str, variants: list[Variant], policy: str) -> None:
        updates = [{"id": v.id, "inventoryPolicy": policy} for v in variants]
        data = self._admin.graphql(SET_POLICY, {"productId": product_id, "variants": updates})
        errors = (data.get("productVariantsBulkUpdate") or {}).get("userErrors") or []
        if errors:
            raise Permanent("Shopify refused productVariantsBulkUpdate (inventoryPolicy)", status=200, body=errors)


def shown(sku: str, variants: Sequence[Variant], location: str | None) -> CartStock:
    """What Shopify shows for a SKU, from its variants (looked up, or listed: carts/shopify/catalog.py)."""
    tracked = [v for v in variants if v.tracked]
    if not variants:
        return CartStock(sku, "not_in_cart", detail=f"no Shopify variant has SKU {sku}")
    if not tracked:
        return CartStock(sku, "not_tracked", detail=f"Shopify does not track inventory for SKU {sku}")
    if all(v.available is None for v in tracked):
        return CartStock(sku, "not_stocked", detail=f"SKU {sku} is not stocked at location {location}")
    quantities = {v.available for v in tracked}
    policies = {v.policy for v in tracked}
    return CartStock(sku, "found", quantities.pop() if len(quantities) == 1 else None,
                     policies.pop() if len(policies) == 1 else "mixed",
                     detail=", ".join(f"{v.id}: available={v.available}, inventoryPolicy={v.policy}" for v in tracked))


def variant_of(node: dict[str, Any]) -> Variant:
    """A `productVariants` node as the lookup (and the catalog listing, carts/shopify/catalog.py) reads it."""
    item = node.get("inventoryItem") or {}
    quantities = (item.get("inventoryLevel") or {}).get("quantities") or []  # no level: not stocked there
    available = next((q.get("quantity") for q in quantities if q.get("name") == "available"), None)
    return Variant(id=node["id"], product_id=(node.get("product") or {}).get("id", ""),
                   inventory_item_id=item.get("id", ""), policy=node.get("inventoryPolicy") or "DENY",
                   tracked=bool(item.get("tracked")), available=available)
