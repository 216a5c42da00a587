"""`cartbridge-preview --connection 101` (or `python -m events.previews`): what Sync Inventory and Sync Tracking Data
would write to a connection's cart, from the preview records the consumers (and a resync in preview) left on
`infoplus.inventory.skipped` and `infoplus.shipments.skipped` (code `preview`).

- Reads both side topics from their beginning to the end offsets they have now, with no consumer group (as
  `cartbridge-replay` does): nothing is committed or changed, and it costs no cart or Infoplus call.
- Inventory: the newest record per SKU (by the item's Infoplus modifyDate, then the record's time). Lists every
  SKU whose cart value differs — SKU, cart now, Infoplus Orderable Quantity, would set, selling-at-zero change —
  largest differences first; a summary (SKUs seen, differing, matching, not sold by the cart) and whether a full
  resync in preview covered the whole LOB or only the SKUs that changed since preview began.
- SKUs the cart sells that Infoplus does not stock: from the newest complete catalog listing a resync in preview
  made (records with `cart_now.code: not_in_infoplus`, then one with `preview.flow: catalog`), less any SKU an
  Infoplus item has led to since. Without a listing the report says so (and what one costs), never "none".
- Tracking: each previewed shipment's fulfillment (or note, shipment, status change) and the shopper emails it
  would have caused, newest first.
`PreviewReport` is also what the ops console's preview page shows (ops/views.py).
Exit status 0; 1 when Kafka could not be read; 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from config.logs import configure_logging
from config.settings import Settings
from events import topics
from events.replay import ReplayError, read_to_end

PREVIEW = "preview"
SIDE_TOPICS = (topics.skipped(topics.INFOPLUS_INVENTORY), topics.skipped(topics.INFOPLUS_SHIPMENTS))
LARGEST = 10
NOT_IN_INFOPLUS = "not_in_infoplus"  # cart_now.code of a SKU only the cart sells (consumers/inventory_resync.py)
# What a listing of the cart's whole catalog costs (read-only; made by a resync in preview, not by this command).
CART_LISTING_COST = ("Shopify: 1 productVariants call per 250 variants; WooCommerce: 1 products call per 100 "
                     "products plus 1 variations call per variable product; BigCommerce: 1 catalog/variants call "
                     "per 250 variants; Magento: 1 products call per 100 products")


@dataclass(frozen=True)
class InventoryRow:
    sku: str
    cart_code: str  # found | not_in_cart | not_tracked | not_stocked
    cart_quantity: int | None
    cart_policy: str | None
    orderable: int
    would_quantity: int | None  # None: nothing would be written (the cart does not sell it)
    would_policy: str | None
    differs: bool
    modified_at: str  # the item's Infoplus modifyDate
    recorded_at: str
    by: str  # "inventory" (a live change) or "inventory-resync"
    cart_detail: str = ""

    @property
    def difference(self) -> int | None:
        if self.would_quantity is None or self.cart_quantity is None:
            return None
        return self.would_quantity - self.cart_quantity

    @property
    def policy_change(self) -> str:
        if self.would_policy is None or self.would_policy == self.cart_policy:
            return ""
        return f"{self.cart_policy} -> {self.would_policy}"

    def rank(self) -> tuple:
        """Largest difference first; a value the cart does not manage (unknown difference) before all."""
        return (self.difference is not None, -abs(self.difference or 0), self.sku)


@dataclass(frozen=True)
class CartOnlyRow:
    """A SKU the cart sells that no Infoplus item of the LOB has, as a catalog listing saw it."""

    sku: str
    cart_quantity: int | None  # None: the listing does not carry it (Magento), or the cart does not count it
    cart_policy: str | None
    cart_detail: str
    recorded_at: str


@dataclass(frozen=True)
class Listing:
    """One catalog listing by a resync in preview: made (`listed`), or why not."""

    listing: str  # the resync's run id; its SKU records carry the same
    listed: bool
    skus: int  # the cart's SKUs it saw
    detail: str
    recorded_at: str


@dataclass(frozen=True)
class TrackingRow:
    infoplus_order_no: str
    cart_order_id: str
    tracking_numbers: tuple[str, ...]
    writes: tuple[dict[str, Any], ...]  # action, summary, tracking_numbers, items, email
    emails: tuple[str, ...]
    note: str
    recorded_at: str


@dataclass
class PreviewReport:
    connection_id: int
    inventory: dict[str, InventoryRow] = field(default_factory=dict)
    tracking: list[TrackingRow] = field(default_factory=list)
    listing: Listing | None = None  # the newest complete catalog listing; None: none was made
    listing_problem: Listing | None = None  # a newer attempt that made none (no listing on the platform, failed)
    cart_only_by_listing: dict[str, dict[str, CartOnlyRow]] = field(default_factory=dict, repr=False)

    @property
    def cart_only(self) -> list[CartOnlyRow]:
        """The cart sells them, Infoplus does not stock them: the newest listing's, less the SKUs an Infoplus item
        was recorded for after it (an item created since). Empty without a listing: see `listing`."""
        if self.listing is None:
            return []
        rows = self.cart_only_by_listing.get(self.listing.listing, {}).values()
        since = self.listing.recorded_at
        return sorted((row for row in rows if not (row.sku in self.inventory
                                                   and self.inventory[row.sku].recorded_at > since)),
                      key=lambda row: row.sku)

    @property
    def differing(self) -> list[InventoryRow]:
        return sorted((row for row in self.inventory.values() if row.differs), key=InventoryRow.rank)

    @property
    def matching(self) -> list[InventoryRow]:
        return [row for row in self.inventory.values() if row.would_quantity is not None and not row.differs]

    @property
    def not_sold(self) -> list[InventoryRow]:
        """Infoplus stocks them, the cart does not sell them (or does not track them there)."""
        return sorted((row for row in self.inventory.values() if row.would_quantity is None), key=lambda r: r.sku)

    @property
    def whole_lob(self) -> bool:
        """Whether a full resync in preview recorded the LOB (else only SKUs that changed since preview began)."""
        return any(row.by == "inventory-resync" for row in self.inventory.values())

    @property
    def would_write_tracking(self) -> list[TrackingRow]:
        return [row for row in self.tracking if row.writes]


def collect(records: Iterable[dict], connection_id: int) -> PreviewReport:
    """The report from side-topic records (any order); records of other connections or codes are ignored."""
    report = PreviewReport(connection_id)
    tracking: dict[tuple, TrackingRow] = {}
    listings: list[Listing] = []
    for record in records:
        if record.get("code") != PREVIEW or _int(record.get("connection_id")) != connection_id:
            continue
        found = record.get("preview") or {}
        if found.get("flow") == "catalog":
            listings.append(_listing(record, found))
        elif found.get("flow") == "inventory" and (found.get("cart_now") or {}).get("code") == NOT_IN_INFOPLUS:
            row = _cart_only_row(record, found)
            report.cart_only_by_listing.setdefault(str(found.get("listing")), {})[row.sku] = row
        elif found.get("flow") == "inventory":
            row = _inventory_row(record, found)
            known = report.inventory.get(row.sku)
            if known is None or _newer(row, known):
                report.inventory[row.sku] = row
        elif found.get("flow") == "tracking":
            row = _tracking_row(record, found)
            key = (row.infoplus_order_no, row.tracking_numbers)
            if key not in tracking or row.recorded_at >= tracking[key].recorded_at:
                tracking[key] = row
    report.tracking = sorted(tracking.values(), key=lambda row: row.recorded_at, reverse=True)
    _choose_listing(report, listings)
    return report


def _choose_listing(report: PreviewReport, listings: list[Listing]) -> None:
    """The newest complete listing, and the newest attempt if that one made none."""
    newest = sorted(listings, key=lambda listing: listing.recorded_at)
    report.listing = next((listing for listing in reversed(newest) if listing.listed), None)
    if newest and not newest[-1].listed:
        report.listing_problem = newest[-1]


def _listing(record: dict, found: dict) -> Listing:
    return Listing(listing=str(found.get("listing")), listed=bool(found.get("listed")),
                   skus=_int(found.get("skus")) or 0, detail=str(found.get("detail") or ""),
                   recorded_at=str(record.get("skipped_at") or ""))


def _cart_only_row(record: dict, found: dict) -> CartOnlyRow:
    now = found.get("cart_now") or {}
    return CartOnlyRow(sku=str(found.get("sku")), cart_quantity=now.get("quantity"), cart_policy=now.get("policy"),
                       cart_detail=str(now.get("detail") or ""), recorded_at=str(record.get("skipped_at") or ""))


def _inventory_row(record: dict, found: dict) -> InventoryRow:
    now, would, infoplus = found.get("cart_now") or {}, found.get("would_set"), found.get("infoplus") or {}
    return InventoryRow(
        sku=str(found.get("sku")), cart_code=str(now.get("code")), cart_quantity=now.get("quantity"),
        cart_policy=now.get("policy"), orderable=int(infoplus.get("orderable_quantity") or 0),
        would_quantity=(would or {}).get("quantity"), would_policy=(would or {}).get("policy"),
        differs=bool(found.get("differs")), modified_at=str(infoplus.get("modified_at") or ""),
        recorded_at=str(record.get("skipped_at") or ""), by=str(record.get("consumer") or ""),
        cart_detail=str(now.get("detail") or ""))


def _tracking_row(record: dict, found: dict) -> TrackingRow:
    return TrackingRow(
        infoplus_order_no=str(found.get("infoplus_order_no")), cart_order_id=str(found.get("cart_order_id")),
        tracking_numbers=tuple(p.get("tracking_no") for p in found.get("parcels") or []),
        writes=tuple(found.get("would_write") or ()), emails=tuple(found.get("emails") or ()),
        note=str(found.get("note") or ""), recorded_at=str(record.get("skipped_at") or ""))


def _newer(row: InventoryRow, known: InventoryRow) -> bool:
    return (_moment(row.modified_at), row.recorded_at) >= (_moment(known.modified_at), known.recorded_at)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# -- reading ----------------------------------------------------------------------------------------------------
def read_report(settings: Settings, connection_id: int) -> PreviewReport:
    """Both side topics read to their current end; raises ReplayError when Kafka cannot be read."""
    return collect(_records(settings), connection_id)


def _records(settings: Settings) -> Iterable[dict]:
    for side_topic in SIDE_TOPICS:
        for record in read_to_end(settings, side_topic):
            try:
                body = json.loads(record.value or b"")
            except ValueError:
                continue
            if isinstance(body, dict):
                yield body


# -- printing ---------------------------------------------------------------------------------------------------
def render(report: PreviewReport, *, limit: int | None = None) -> str:
    return "\n".join([*_inventory_lines(report, limit), "", *_tracking_lines(report, limit)]) + "\n"


def _inventory_lines(report: PreviewReport, limit: int | None) -> list[str]:
    differing, matching, not_sold = report.differing, report.matching, report.not_sold
    lines = [f"Inventory preview for connection {report.connection_id}: {len(report.inventory)} SKUs seen, "
             f"{len(differing)} differ, {len(matching)} already match, {len(not_sold)} not sold by the cart",
             "  covers the whole LOB (a resync in preview ran)" if report.whole_lob else
             "  covers only SKUs that changed since preview began: cartbridge-inventory-resync --connection "
             f"{report.connection_id} previews the whole LOB"]
    if differing:
        lines += ["", f"  {'SKU':<24} {'cart now':>10} {'Infoplus':>10} {'would set':>10}  selling at zero"]
        for row in differing[:limit]:
            now = "unmanaged" if row.cart_quantity is None else str(row.cart_quantity)
            lines.append(f"  {row.sku:<24} {now:>10} {row.orderable:>10} {row.would_quantity:>10}  "
                         f"{row.policy_change or '-'}")
        if limit is not None and len(differing) > limit:
            lines.append(f"  … {len(differing) - limit} more (--limit)")
        largest = [f"{row.sku} {row.difference:+d}" for row in differing[:LARGEST] if row.difference is not None]
        lines += ["", f"  largest differences: {', '.join(largest) or '-'}"]
        changes = sum(1 for row in differing if row.policy_change)
        if changes:
            lines.append(f"  selling at zero would change for {changes} SKU(s)")
    if not_sold:
        shown = ", ".join(f"{row.sku} ({row.cart_code})" for row in not_sold[:LARGEST])
        lines.append(f"  Infoplus stocks, the cart does not sell: {shown}"
                     + (f" … {len(not_sold) - LARGEST} more" if len(not_sold) > LARGEST else ""))
    return lines + _cart_only_lines(report, limit)


def _cart_only_lines(report: PreviewReport, limit: int | None) -> list[str]:
    lines = []
    if report.listing_problem is not None:
        lines.append(f"  no catalog listing at {report.listing_problem.recorded_at}: {report.listing_problem.detail}")
    if report.listing is None:
        return lines + [f"  the cart sells, Infoplus does not stock: not known — no catalog listing was made yet; a "
                        f"resync in preview (cartbridge-inventory-resync --connection {report.connection_id}) lists "
                        f"the cart's catalog: {CART_LISTING_COST}"]
    cart_only = report.cart_only
    lines.append(f"  the cart sells, Infoplus does not stock: {len(cart_only)} SKU(s) (catalog listing of "
                 f"{report.listing.recorded_at}: {report.listing.skus} cart SKUs)")
    for row in cart_only[:limit]:
        quantity = "unknown" if row.cart_quantity is None else str(row.cart_quantity)
        lines.append(f"    {row.sku:<24} {quantity:>10}  {row.cart_detail}")
    if limit is not None and len(cart_only) > limit:
        lines.append(f"    … {len(cart_only) - limit} more (--limit)")
    return lines


def _tracking_lines(report: PreviewReport, limit: int | None) -> list[str]:
    writing = report.would_write_tracking
    emails = sum(len(row.emails) for row in writing)
    lines = [f"Tracking preview for connection {report.connection_id}: {len(report.tracking)} shipments seen, "
             f"{len(writing)} would write to the cart, {emails} shopper email(s) would have been sent"]
    for row in writing[:limit]:
        lines.append(f"  Infoplus order {row.infoplus_order_no} -> cart order {row.cart_order_id} "
                     f"({', '.join(row.tracking_numbers)}), {row.recorded_at}")
        for write in row.writes:
            lines.append(f"    {write.get('action')}: {write.get('summary')}"
                         + (f" — email: {write['email']}" if write.get("email") else " — no email"))
    already = len(report.tracking) - len(writing)
    if already:
        lines.append(f"  {already} shipment(s) already shown on their cart order: nothing would be written")
    return lines


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cartbridge-preview",
                                     description="What Sync Inventory and Sync Tracking Data would write to a cart.")
    parser.add_argument("--connection", type=int, required=True, help="connection id from the registry")
    parser.add_argument("--limit", type=int, default=None, help="rows per list (default: all)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = _args(argv)
    try:
        report = read_report(Settings.from_env(), args.connection)
    except ReplayError as error:
        print(f"cartbridge-preview: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(render(report, limit=args.limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
