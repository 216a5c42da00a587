"""`cartbridge-inventory-resync --connection 101` (or `python -m consumers.inventory_resync`): push every item of a
connection's LOB from Infoplus to its cart — when Sync Inventory is turned on, or to heal drift.

- Refuses when the connection's Sync Inventory is off: off means "leave this cart's stock alone".
- Compares before it writes (where the platform can read stock, carts/base.py StockReader): each page's SKUs are
  looked up — the lookup a write needs anyway — and only a SKU whose cart value differs is written (`unchanged`
  counts the others). So the resync that starts when a connection goes from preview to on writes exactly the
  differences its preview showed.
- In preview (`sync_inventory: preview`) it writes nothing: each page's lookup is recorded, SKU by SKU, on
  `infoplus.inventory.skipped` (code `preview`, the same record the inventory consumer writes), which fills the
  preview report (`cartbridge-preview`) for the whole LOB at the resync's own pace. That needs Kafka. Once the
  Infoplus items are read it lists the cart's catalog (carts/base.py CatalogLister), at the same pace, and records
  each SKU the cart sells that is no item of the LOB (`cart_now.code: not_in_infoplus`, `infoplus: null`), then
  one record that the listing is complete (`preview.flow: catalog`) — so the report never claims "none" without
  a listing. A resync that is on never lists the catalog.
- Pages `item/search?filter=lobId eq N` (limit 250) and writes each page with the platform's stock writer, in
  as few calls as the cart allows (set_many; SKU by SKU for what that leaves), by the same rules as the
  inventory consumer (consumers.inventory.stock_level): absolute quantity, sell-at-zero.
- Spends at most INVENTORY_RESYNC_CALLS_PER_SECOND cart calls per second (`--calls-per-second`), evenly
  spaced, so a LOB of thousands of items never floods a cart whose quota other apps share.
- A transient failure (429, 5xx, timeout) waits as the cart said (or backs off) and tries again, up to
  `--attempts`; a permanent one is reported and the run goes on. SKUs the cart does not sell are counted.
- Catch-up: items modified in Infoplus while the run was going are read again at the end and pushed once more,
  so a live update the inventory consumer applied meanwhile is not left overwritten by an older page.
Exit status 0 when every item was applied or skipped; 1 when any failed, or when the run could not start (a
message says why).
"""
from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Protocol, Sequence, TypeVar

from marshmallow import ValidationError

from carts import PLATFORMS
from carts.base import CartStock, CatalogLister, StockLevel, StockResult, StockWriter
from config.connections import ConnectionRegistry, RegistryError
from config.logs import configure_logging
from config.settings import Settings
from consumers.inventory import preview_record, stock_level
from events import topics
from events.infoplus import inventory_event
from events.previews import NOT_IN_INFOPLUS
from events.publisher import BrokerUnavailable, Publisher
from infoplus.client import InfoplusClient
from infoplus.switches import SwitchBoard
from outbound.errors import OutboundError, Retryable
from outbound.pacing import PacedSession
from schemas.connection import Connection
from schemas.infoplus import InfoplusItemSchema, InventoryLevel

log = logging.getLogger("consumers.inventory_resync")
_ITEM = InfoplusItemSchema()
MAX_BACKOFF_SECONDS = 60.0
T = TypeVar("T")


class PreviewSink(Protocol):
    """Where a resync in preview records what it found (PreviewRecords: infoplus.inventory.skipped)."""

    def __call__(self, item: InventoryLevel, now: CartStock, would: CartStock | None) -> None:
        """One Infoplus item: what the cart shows, and what a write would make it show."""

    def cart_only(self, shown: CartStock, listing: str) -> None:
        """One SKU the cart sells that is no Infoplus item of the LOB (found by listing `listing`)."""

    def listing(self, listing: str, found: dict) -> None:
        """The listing is over: `found` says whether it was made, how many SKUs it saw, or why not."""


@dataclass
class ResyncReport:
    connection_id: int
    counts: Counter = field(default_factory=Counter)  # applied, not_in_cart, not_tracked, failed, invalid …
    failures: list[str] = field(default_factory=list)
    cart_calls: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(self.counts.items()))
        return (f"resync of connection {self.connection_id}: {counts or 'no items'}; "
                f"{self.cart_calls} cart calls in {self.seconds:.1f}s")


class Resync:
    """One run for one connection."""

    def __init__(self, connection: Connection, infoplus: InfoplusClient, writer: StockWriter, *,
                 attempts: int = 5, sleep: Callable[[float], None] = time.sleep,
                 preview: PreviewSink | None = None, catalog: CatalogLister | None = None) -> None:
        self._connection = connection
        self._preview = preview  # set: read and record, write nothing
        self._catalog = catalog  # preview only: the cart's catalog, for the SKUs no Infoplus item leads to
        self._infoplus_skus: set[str] = set()  # every SKU of the LOB the run read
        self._infoplus = infoplus
        self._writer = writer
        self._attempts = attempts
        self._sleep = sleep
        self._run_id = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        self.report = ResyncReport(connection.id)

    def run(self) -> ResyncReport:
        started = time.monotonic()
        self._push_all(self._infoplus.search_items(self._connection.lob_id, read_page=self._read_page), "resync")
        # Catch-up: whatever changed while we were writing older page values is pushed again, as it is now.
        changed = self._infoplus.search_items(self._connection.lob_id, modified_after=self._run_id,
                                              read_page=self._read_page)
        self._push_all(changed, "catch-up", counted=False)
        if self._preview is not None:
            self._preview_catalog()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _read_page(self, read: Callable[[], list[dict]]) -> list[dict]:
        """An Infoplus 429/5xx costs a wait and the same page again, not the whole resync from the start."""
        return self._with_retries(read, "reading Infoplus items")

    def _push_all(self, pages: Iterable[list[dict]], pass_name: str, counted: bool = True) -> None:
        for page in pages:
            self._infoplus_skus.update(str(record["sku"]) for record in page if record.get("sku"))
            items = [item for item in (self._item(record, counted) for record in page) if item]
            levels = {item.sku: stock_level(item, self._connection,
                                            change_id=f"{pass_name}:{self._run_id}:{self._connection.id}")
                      for item in items}
            shown = self._read_many(list(levels.values()), counted)
            if self._preview is not None:
                self._record_previews(items, levels, shown, counted)
                continue
            to_write = [level for level in levels.values() if self._needs_write(level, shown.get(level.sku), counted)]
            settled = self._write_many(to_write)
            for level in to_write:
                self._push(level, settled.get(level.sku), counted)

    def _item(self, record: dict, counted: bool) -> InventoryLevel | None:
        try:
            return _ITEM.load(record)
        except ValidationError as error:
            self._count("invalid", counted, f"item {record.get('sku')!r} is not readable: {error.messages}")
            return None

    def _read_many(self, levels: list[StockLevel], counted: bool) -> dict[str, CartStock]:
        """What the cart shows for a page, by the lookup a write makes anyway; {} where the platform cannot say."""
        read_stock = getattr(self._writer, "read_stock", None)
        if read_stock is None or not levels:
            return {}
        try:
            return self._with_retries(lambda: read_stock([level.sku for level in levels]), f"{len(levels)} SKUs")
        except OutboundError as error:
            if self._preview is not None:
                for level in levels:
                    self._count("failed", counted, f"SKU {level.sku}: {error.reason}")
            log.warning("reading %d SKUs failed (%s); writing them without comparing", len(levels), error.reason)
            return {}

    def _needs_write(self, level: StockLevel, shown: CartStock | None, counted: bool) -> bool:
        if shown is None:
            return True  # not read: write, as a resync always did
        if not shown.found:
            self._count(shown.code, counted, shown.detail)
            return False
        if shown.differs_from(self._writer.would_show(level)):
            return True
        self._count("unchanged", counted, None)
        return False

    def _record_previews(self, items: list[InventoryLevel], levels: dict[str, StockLevel],
                         shown: dict[str, CartStock], counted: bool) -> None:
        for item in items:
            now = shown.get(item.sku)
            if now is None:
                continue  # the read failed (counted) or the platform cannot read stock
            would = self._writer.would_show(levels[item.sku]) if now.found else None
            try:
                self._preview(item, now, would)
            except OutboundError as error:
                self._count("failed", counted, f"SKU {item.sku}: {error.reason}")
                continue
            code = now.code if would is None else "preview_differs" if now.differs_from(would) else "preview_matches"
            self._count(code, counted, None)

    def _preview_catalog(self) -> None:
        """The SKUs the cart sells that no Infoplus item of the LOB has: one listing, then one record per SKU and
        one saying the listing is complete (none is written when recording fails half way)."""
        if self._catalog is None:
            self._record_listing({"listed": False, "detail": f"platform {self._connection.platform} has no "
                                                             "catalog listing (carts/base.py CatalogLister)"})
            return
        try:
            listed, pages = self._list_catalog()
        except OutboundError as error:
            self._count("failed", True, f"listing the cart's catalog: {error.reason}")
            self._record_listing({"listed": False, "detail": f"the catalog listing failed: {error.reason}"})
            return
        cart_only = [shown for sku, shown in sorted(listed.items()) if sku not in self._infoplus_skus]
        try:
            for shown in cart_only:
                self._preview.cart_only(shown, self._run_id)
                self._count("not_in_infoplus", True, None)
        except OutboundError as error:
            self._count("failed", True, f"recording the cart's catalog: {error.reason}")
            return
        self._record_listing({"listed": True, "skus": len(listed), "not_in_infoplus": len(cart_only),
                              "pages": pages})

    def _list_catalog(self) -> tuple[dict[str, CartStock], int]:
        """SKU -> what the cart shows (a SKU listed twice, e.g. two Shopify variants, merged), and the pages read."""
        listed: dict[str, CartStock] = {}
        pages = 0
        for page in self._catalog.list_catalog(lambda read: self._with_retries(read, "listing the cart's catalog")):
            pages += 1
            for shown in page:
                listed[shown.sku] = _merged(listed[shown.sku], shown) if shown.sku in listed else shown
        return listed, pages

    def _record_listing(self, found: dict) -> None:
        try:
            self._preview.listing(self._run_id, found)
        except OutboundError as error:
            self._count("failed", True, f"recording the catalog listing: {error.reason}")

    def _write_many(self, levels: list[StockLevel]) -> dict[str, StockResult]:
        """A page in as few cart calls as the platform allows; what it leaves out is written SKU by SKU."""
        set_many = getattr(self._writer, "set_many", None)
        if set_many is None or len(levels) < 2:
            return {}
        try:
            return self._with_retries(lambda: set_many(levels), f"{len(levels)} SKUs")
        except OutboundError as error:
            log.warning("bulk write of %d SKUs failed (%s); writing them one by one", len(levels), error.reason)
            return {}

    def _push(self, level: StockLevel, settled: StockResult | None, counted: bool) -> None:
        try:
            result = settled or self._with_retries(lambda: self._writer.set_stock(level), f"SKU {level.sku}")
        except OutboundError as error:
            self._count("failed", counted, f"SKU {level.sku}: {error.reason}")
            return
        self._count(result.code, counted, None if result.applied else result.detail)

    def _with_retries(self, write: Callable[[], T], what: str) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                return write()
            except Retryable as error:
                if attempt == self._attempts:
                    raise
                wait = error.retry_after if error.retry_after is not None else min(MAX_BACKOFF_SECONDS, 2.0 ** attempt)
                log.warning("%s: %s; trying again in %.1fs (attempt %d)", what, error.reason, wait, attempt)
                self._sleep(wait)
        raise AssertionError("unreachable")

    def _count(self, code: str, counted: bool, problem: str | None) -> None:
        if counted:
            self.report.counts[code] += 1
        if code in ("failed", "invalid") and problem:
            self.report.failures.append(problem)
            log.error("connection %s: %s", self._connection.id, problem)
        elif problem:
            log.info("connection %s: %s", self._connection.id, problem)


def _merged(one: CartStock, other: CartStock) -> CartStock:
    """Two listed entries of one SKU: a quantity or policy only when they agree (as a lookup of it would say)."""
    return CartStock(one.sku, one.code if one.code == other.code else "found",
                     one.quantity if one.quantity == other.quantity else None,
                     one.policy if one.policy == other.policy else "mixed", f"{one.detail}; {other.detail}")


def _args(argv: Sequence[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cartbridge-inventory-resync",
                                     description="Push every item of a connection's LOB from Infoplus to its cart.")
    parser.add_argument("--connection", type=int, required=True, help="connection id from the registry")
    parser.add_argument("--calls-per-second", type=float, default=settings.inventory_resync_calls_per_second,
                        help="cart calls per second to spend (default %(default)s)")
    parser.add_argument("--attempts", type=int, default=5, help="tries per item on 429/5xx/timeouts")
    return parser.parse_args(argv)


def _connection(settings: Settings, infoplus: InfoplusClient, connection_id: int) -> Connection:
    registry = ConnectionRegistry(settings.connections_file)
    found = SwitchBoard(registry, infoplus, settings.infoplus_switches_ttl_seconds).get(connection_id)
    if found is None:
        raise SystemExit(f"connection {connection_id} is not in {settings.connections_file}")
    if not found.sync_inventory and not found.previewing("inventory"):
        raise SystemExit(f"Sync Inventory is off for connection {connection_id}: its cart's stock is left alone. "
                         "Turn it on (or to preview) first.")
    if PLATFORMS[found.platform].stock is None:
        raise SystemExit(f"platform {found.platform} cannot set stock")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    settings = Settings.from_env()
    args = _args(argv, settings)
    infoplus = InfoplusClient.from_settings(settings)
    try:
        connection = _connection(settings, infoplus, args.connection)
    except (RegistryError, OutboundError) as error:
        raise SystemExit(f"cannot start: {error}") from None
    report = resync_connection(settings, infoplus, connection, calls_per_second=args.calls_per_second,
                               attempts=args.attempts)
    print(report.summary(), flush=True)
    return 0 if report.ok else 1


def resync_connection(settings: Settings, infoplus: InfoplusClient, connection: Connection, *,
                      calls_per_second: float | None = None, attempts: int = 5) -> ResyncReport:
    """One full resync of one connection, pacing its cart calls (also run by the poller when the switch turns on)."""
    session = PacedSession(calls_per_second or settings.inventory_resync_calls_per_second)
    writer = PLATFORMS[connection.platform].stock(connection, timeout=settings.http_timeout, session=session)
    if not connection.previewing("inventory"):
        report = Resync(connection, infoplus, writer, attempts=attempts).run()
    elif not hasattr(writer, "read_stock"):
        report = ResyncReport(connection.id, failures=[f"platform {connection.platform} cannot preview stock "
                                                       f"(carts/base.py StockReader)"])
    else:
        topics.ensure_topics(settings, [topics.skipped(topics.INFOPLUS_INVENTORY)])
        lister = PLATFORMS[connection.platform].catalog  # spent in preview only: an on resync never lists
        catalog = lister(connection, timeout=settings.http_timeout, session=session) if lister else None
        with closing(Publisher(settings)) as publisher:
            report = Resync(connection, infoplus, writer, attempts=attempts,
                            preview=PreviewRecords(publisher, connection), catalog=catalog).run()
    report.cart_calls = session.calls
    return report


class PreviewRecords:
    """A resync's preview findings as records on `infoplus.inventory.skipped`, shaped like the consumer's (an
    event built from the item as the poller would build it, so the report and the ops console read both alike).
    A SKU only the cart sells has no Infoplus item, hence no event (`event: null`; replay refuses inventory side
    topics anyway)."""

    def __init__(self, publisher: Publisher, connection: Connection) -> None:
        self._publisher = publisher
        self._connection = connection

    def __call__(self, item: InventoryLevel, now: CartStock, would: CartStock | None) -> None:
        _, key, envelope = inventory_event(item, None, "inventory-resync")
        found = preview_record(item, now, would)
        self._publish(key, found["reason"], found["preview"], envelope.to_dict())

    def cart_only(self, shown: CartStock, listing: str) -> None:
        lob = self._connection.lob_id
        preview = {"flow": "inventory", "sku": shown.sku, "lob_id": lob, "infoplus": None,
                   "cart_now": {"code": NOT_IN_INFOPLUS, "quantity": shown.quantity, "policy": shown.policy,
                                "detail": shown.detail},
                   "would_set": None, "differs": False, "listing": listing}
        reason = (f"preview: SKU {shown.sku} is sold by the cart (quantity "
                  f"{'unknown' if shown.quantity is None else shown.quantity}) but is no item of LOB {lob} in "
                  "Infoplus (nothing written: Sync Inventory is in preview)")
        self._publish(f"{lob}:{shown.sku}", reason, preview, None)

    def listing(self, listing: str, found: dict) -> None:
        preview = {"flow": "catalog", "listing": listing, "lob_id": self._connection.lob_id,
                   "platform": self._connection.platform, **found}
        reason = (f"preview: catalog listing: {found.get('skus')} cart SKUs, {found.get('not_in_infoplus')} not in "
                  "Infoplus" if found.get("listed") else f"preview: no catalog listing: {found.get('detail')}")
        self._publish(f"catalog:{self._connection.id}", reason, preview, None)

    def _publish(self, key: str, reason: str, preview: dict, event: dict | None) -> None:
        record = {"reason": reason, "code": "preview", "connection_id": self._connection.id, "preview": preview,
                  "consumer": "inventory-resync",
                  "skipped_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event}
        try:
            self._publisher.publish_record(topics.skipped(topics.INFOPLUS_INVENTORY), key.encode(), record)
        except BrokerUnavailable as error:  # a 429-like wait would not help the report: fail this SKU loudly
            raise Retryable(f"could not record the preview of {key}: {error}") from error

if __name__ == "__main__":
    raise SystemExit(main())
