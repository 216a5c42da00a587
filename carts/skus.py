"""Remembering what a cart calls a SKU, so a stock write costs one call, not a lookup and a call."""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Generic, Iterator, Sequence, TypeVar

T = TypeVar("T")


class SkuCache(Generic[T]):
    """SKU -> the cart's ids for it, for `ttl` seconds.

    A miss ("the cart has no such SKU") is remembered as well: a warehouse stocks more than each store lists,
    and those SKUs must not cost a lookup on every stock change. The ttl lets a product added to the cart
    later be found, and a variant deleted in the cart be looked up again (writers also `forget` on errors).
    """

    def __init__(self, ttl: float = 300.0, capacity: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def lookup(self, sku: str, fetch: Callable[[str], T]) -> T:
        """The cached answer, or `fetch(sku)` stored for next time (exceptions are not cached)."""
        entry = self._entries.get(sku)
        if entry is not None and entry[0] > self._clock():
            self._entries.move_to_end(sku)
            return entry[1]
        value = fetch(sku)
        self.put(sku, value)
        return value

    def missing(self, skus: list[str]) -> list[str]:
        """The SKUs with no fresh entry (what a bulk lookup still has to ask the cart about)."""
        now = self._clock()
        return [sku for sku in dict.fromkeys(skus) if sku not in self._entries or self._entries[sku][0] <= now]

    def put(self, sku: str, value: T) -> None:
        self._entries[sku] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(sku)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def forget(self, sku: str) -> None:
        self._entries.pop(sku, None)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (the cart's per-request limit)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
