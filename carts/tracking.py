"""What a cart's tracking writer is given, and the rules every platform shares.

The tracking consumer turns one Infoplus shipment into a `TrackingUpdate`: the state the cart order should
reach (every carton's tracking number; what shipped). Each platform's writer (`carts/<platform>/tracking.py`)
reads what the cart already has and writes only the difference — so a redelivered or duplicated event, or a
retry after a crash between two calls, never makes a second fulfillment, shipment or customer email.

Rules shared by every platform:
- **Tracking numbers are the idempotency key**: when every parcel's number is already on the cart order,
  nothing is written.
- **What shipped** comes from the Infoplus order's lines (`shippedQty`); the Shipment record has no lines.
  Per SKU the cart fulfils `min(shipped by this Infoplus order, shipped by all Infoplus orders of the cart
  order − already fulfilled in the cart)`, so a backorder child (1234.001) fulfils its own lines, the parent's
  lines are never fulfilled twice, and a partial shipment fulfils only what shipped.
- A carton whose number is new but whose goods are already fulfilled (a later carton of the same order) adds
  its number to the latest fulfillment instead of creating an empty one.

Preview (Sync Tracking Data in preview): a writer first makes a `TrackingPlan` — the reads done, the writes
described but not made, each with the shopper email it would cause — and `write` is `plan(update).run()`. So
a preview reads exactly what a write reads, and shows exactly the writes a write would make.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol, TypeVar

import requests

from carts.carriers import Carrier
from schemas.connection import Connection

Line = TypeVar("Line")


@dataclass(frozen=True)
class Parcel:
    """One carton: its tracking number, the carrier in every cart's vocabulary, and a tracking URL when known."""

    tracking_no: str
    carrier: Carrier
    ship_date: str = ""  # ISO-8601 from Infoplus

    @property
    def url(self) -> str | None:
        return self.carrier.tracking_url(self.tracking_no)

    @property
    def day(self) -> str:
        """The ship date as YYYY-MM-DD (what WooCommerce Shipment Tracking wants)."""
        return self.ship_date[:10]


@dataclass(frozen=True)
class TrackingUpdate:
    """The state one cart order should reach after an Infoplus order shipped (see the module docstring)."""

    cart_order_id: str
    infoplus_order_no: str  # e.g. "1234.001": named in notes and comments so people can find it
    parcels: tuple[Parcel, ...]  # every carton of this Infoplus order known so far, this event's first
    shipped: Mapping[str, int]  # SKU -> units this Infoplus order shipped
    shipped_total: Mapping[str, int]  # SKU -> units all Infoplus orders of this cart order shipped
    notify_customer: bool = True

    def missing(self, numbers_in_cart: Iterable[str]) -> list[Parcel]:
        """The parcels whose tracking number the cart order does not show yet."""
        present = {number.strip().upper() for number in numbers_in_cart if number}
        return [parcel for parcel in self.parcels if parcel.tracking_no.strip().upper() not in present]

    def to_fulfil(self, fulfilled: Mapping[str, int]) -> dict[str, int]:
        """SKU -> units to fulfil now, given what the cart has already fulfilled per SKU."""
        wanted = {sku: min(qty, self.shipped_total.get(sku, qty) - fulfilled.get(sku, 0))
                  for sku, qty in self.shipped.items()}
        return {sku: qty for sku, qty in wanted.items() if qty > 0}

    def everything_shipped(self, ordered: Mapping[str, int]) -> bool:
        """True when every SKU the cart order asked for has shipped in full (across backorders)."""
        return bool(ordered) and all(self.shipped_total.get(sku, 0) >= qty for sku, qty in ordered.items())


def allocate(wanted: Mapping[str, int], open_lines: Iterable[tuple[Line, str, int]]) -> list[tuple[Line, int]]:
    """Spread per-SKU quantities over the cart's open lines `(line, sku, remaining)`, first line first."""
    left = dict(wanted)
    picked: list[tuple[Line, int]] = []
    for line, sku, remaining in open_lines:
        take = min(left.get(sku, 0), remaining)
        if take > 0:
            picked.append((line, take))
            left[sku] -= take
    return picked


def add_up(pairs: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """SKU -> summed quantity (lines without a SKU cannot be matched to the warehouse and are left out)."""
    totals: dict[str, int] = {}
    for sku, quantity in pairs:
        if sku:
            totals[sku] = totals.get(sku, 0) + int(quantity or 0)
    return totals


def mentions(text: str, number: str) -> bool:
    """Whether `text` (a note, a comment) names this tracking number as a whole word, ignoring case."""
    pattern = r"(?<![A-Za-z0-9])" + re.escape(number.strip()) + r"(?![A-Za-z0-9])"
    return re.search(pattern, text or "", flags=re.IGNORECASE) is not None


def shipped_summary(update: TrackingUpdate) -> str:
    """"2 × SKU-1, 1 × SKU-2" — what this Infoplus order shipped, for notes and comments."""
    return ", ".join(f"{qty} × {sku}" for sku, qty in sorted(update.shipped.items()))


@dataclass(frozen=True)
class PlannedWrite:
    """One write a tracking writer is about to make, described for a person (preview) and ready to run."""

    action: str  # "fulfillment", "tracking_added", "order_note", "tracking_item", "order_completed", "shipment" …
    summary: str  # "fulfillment on gid://shopify/Order/1 of 2 × SKU-1 with 1Z999"
    tracking_numbers: tuple[str, ...] = ()
    items: Mapping[str, int] = field(default_factory=dict)  # SKU -> units
    email: str | None = None  # what the shopper would be sent because of this write; None: no email
    perform: Callable[[], str] = field(default=lambda: "", compare=False, repr=False)

    def to_record(self) -> dict[str, Any]:
        return {"action": self.action, "summary": self.summary, "tracking_numbers": list(self.tracking_numbers),
                "items": dict(self.items), "email": self.email}


@dataclass(frozen=True)
class TrackingPlan:
    """What the cart order shows now (after the reads) and the writes that would bring it up to the update."""

    cart_now: Mapping[str, Any]  # e.g. {"tracking_numbers": [...], "fulfilled": {sku: units}}
    writes: tuple[PlannedWrite, ...] = ()
    note: str = ""  # what to say when nothing needs writing

    def run(self) -> str:
        """Make the writes, in order; what was done, for the log."""
        return "; ".join(write.perform() for write in self.writes) or self.note

    def to_record(self) -> dict[str, Any]:
        return {"cart_now": dict(self.cart_now), "would_write": [w.to_record() for w in self.writes],
                "emails": [w.email for w in self.writes if w.email], "note": self.note}


def numbers_of(parcels: Iterable[Parcel]) -> tuple[str, ...]:
    return tuple(parcel.tracking_no for parcel in parcels)


class TrackingWriter(Protocol):
    """Outbound tracking for one connection's cart (`carts/<platform>/tracking.py`)."""

    def plan(self, update: TrackingUpdate) -> TrackingPlan:
        """Read what the cart order shows and say what `write` would write (preview: nothing is written).

        Raises like `write`. Shopify, WooCommerce, BigCommerce and Magento have it; a platform without it cannot
        preview tracking: its shipments get a skipped record with code `preview_unsupported`, and nothing is
        written."""

    def write(self, update: TrackingUpdate) -> str:
        """Bring the cart order up to `update`, reading before writing; return what was done, for the log.

        Raises outbound.errors.Retryable (429, 5xx, timeouts) or Permanent (the order is not in the cart,
        the cart refused the write, nothing shipped is open in the cart).
        """


class TrackingWriterFactory(Protocol):
    def __call__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> TrackingWriter:
        """A writer for one connection (CartPlatform.tracking)."""
