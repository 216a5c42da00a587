"""The `inventory` consumer: each item's Orderable Quantity from `infoplus.inventory` reaches every cart of its LOB
whose Sync Inventory is on (read at processing time).

One event fans out to every connection of the event's LOB (`registry.for_lob`):
- Sync Inventory off -> that connection is left alone and gets a skipped record (code `sync_off`);
- Sync Inventory in preview -> the cart is read (the lookup a write makes anyway, `StockReader.read_stock`) and
  nothing is written: a skipped record (code `preview`) carries the cart's current value and the would-be
  value (`preview`: sku, infoplus, cart_now, would_set, differs). A level the cart already shows is remembered
  as applied, so once the switch is on, the same level is not written again;
- an event older (`modified_at`) than the one last applied to that connection and SKU -> dropped, with a
  skipped record (code `stale`): latest value wins — across restarts and rebalances, since what was applied
  lives in the consumer's state store (`infoplus.inventory.state`);
- a level the cart already shows from us (a repeat, a retry of a half-done fan-out) -> nothing sent again;
- otherwise the platform's stock writer sets the absolute quantity and the sell-at-zero rule; a SKU the cart
  does not sell is a counted skipped record (code `not_in_cart`), never a dead letter.
Each connection's part is done, skipped or parked on its own: a cart failing transiently (429, 5xx, timeout) or
whose circuit is open (consumers/circuits.py) gets its part parked on `infoplus.inventory.retry`, narrowed to that
connection (the envelope's connection_id), and the others are written at once. The event is committed once every
part is done, skipped or parked. One that failed permanently dead-letters the event with every connection's
result (a replay writes only what is missing: AppliedLevels).

Order: a parked level may be overtaken by a later level of the same SKU for the same connection; that is
harmless: latest value wins through the state store, so when the older parked level comes due it is dropped as
`stale`.

Batches (the engine's look-ahead, one partition's poll batch at a time):
- latest value wins inside a batch: older events for a SKU that a later one follows are committed unhandled,
  so a burst of updates for one SKU costs one cart call per batch; the broker holds fetches up to
  INVENTORY_COALESCE_MS to gather a burst into one batch;
- write-ahead: the newest value of every SKU of the batch is written to each connection in as few calls as
  the cart allows (BulkStockWriter.set_many); each event's own handling then finds it already applied. Anything
  the bulk call did not settle is written by the handler, SKU by SKU, with the usual retry and dead-letter.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import requests
from marshmallow import ValidationError

from carts import PLATFORMS
from carts.base import CartStock, StockLevel, StockWriter
from config.connections import ConnectionRegistry
from config.settings import Settings
from consumers.circuits import NO_CIRCUITS, Circuits, ConnectionWaiting
from consumers.connection_hints import connection_of_infoplus_event
from consumers.engine import ConsumerEngine
from consumers.outcomes import Outcome, TargetParked, TargetSkipped, done, skipped
from consumers.runner import run_consumer
from consumers.state import StateStore
from events import topics
from events.publisher import Publisher
from infoplus.client import InfoplusClient
from infoplus.switches import SwitchBoard
from outbound.errors import OutboundError, Permanent, Retryable
from outbound.http import new_session
from schemas.connection import Connection
from schemas.envelope import Envelope
from schemas.infoplus import InventoryLevel, InventoryLevelSchema

log = logging.getLogger("consumers.inventory")
_LEVEL = InventoryLevelSchema()
FETCH_MIN_BYTES = 64 * 1024  # a fetch returns at once when this much has gathered, else after the coalesce wait


def stock_level(item: InventoryLevel, connection: Connection, change_id: str) -> StockLevel:
    """What the cart should show (docs/inventory.md)."""
    return StockLevel(sku=item.sku, quantity=max(0, item.orderable_quantity),  # oversold (negative) shows as 0
                      sellable_at_zero=item.backorder and not connection.stop_sales_at_zero, change_id=change_id)


@dataclass(frozen=True)
class _Applied:
    version: datetime
    quantity: int
    sellable_at_zero: bool


class _InMemory(dict):
    """For a handler built without a state store (unit tests): get/put like StateStore."""

    def put(self, key: str, value: dict) -> None:
        self[key] = value


class AppliedLevels:
    """What was last set per (connection, SKU): drops older events (latest value wins), and a level equal to what
    the cart already has from us is not written again (a cart call saved: Shopify's cost bucket and BigCommerce's
    quota are shared with the merchant's other apps), also for a retried fan-out.

    Kept in the inventory consumer's state store (consumers/state.py: `infoplus.inventory.state`, partitioned like
    the events, restored before a partition's events after any restart or rebalance), so both hold across them.
    """

    def __init__(self, state: StateStore | _InMemory | None = None) -> None:
        self._state = _InMemory() if state is None else state

    def newer_than(self, connection_id: int, sku: str, version: datetime) -> datetime | None:
        """The applied version when `version` is older than it (a stale event); else None."""
        applied = self._get(connection_id, sku)
        return applied.version if applied is not None and version < applied.version else None

    def already(self, connection_id: int, level: StockLevel, version: datetime) -> bool:
        """The cart already shows this level from us (set by this version or an earlier one)."""
        applied = self._get(connection_id, level.sku)
        return applied is not None and version >= applied.version and \
            (applied.quantity, applied.sellable_at_zero) == (level.quantity, level.sellable_at_zero)

    def record(self, connection_id: int, level: StockLevel, version: datetime) -> None:
        self._state.put(f"{connection_id}:{level.sku}", {"version": version.isoformat(), "quantity": level.quantity,
                                                         "sellable_at_zero": level.sellable_at_zero})

    def _get(self, connection_id: int, sku: str) -> _Applied | None:
        value = self._state.get(f"{connection_id}:{sku}")
        if value is None:
            return None
        return _Applied(datetime.fromisoformat(value["version"]), value["quantity"], value["sellable_at_zero"])


class StockWriters:
    """One stock writer per connection, rebuilt when the connection's entry changes (its SKU cache with it)."""

    def __init__(self, *, timeout: tuple[float, float], session: requests.Session | None = None) -> None:
        self._timeout = timeout
        self._session = session or new_session()  # one pooled session for every cart this process writes to
        self._writers: dict[int, tuple[Connection, StockWriter]] = {}

    def for_connection(self, connection: Connection) -> StockWriter:
        known = self._writers.get(connection.id)
        if known is None or known[0] != connection:
            factory = PLATFORMS[connection.platform].stock
            if factory is None:
                raise Permanent(f"platform {connection.platform} cannot set stock")
            known = (connection, factory(connection, timeout=self._timeout, session=self._session))
            self._writers[connection.id] = known
        return known[1]


@dataclass(frozen=True)
class _Pushed:
    """What happened at one connection."""

    connection_id: int
    note: str
    skip: TargetSkipped | None = None
    error: OutboundError | None = None
    parked: ConnectionWaiting | None = None


class InventoryHandler:
    """One item's stock level -> every connection of its LOB with Sync Inventory on."""

    def __init__(self, registry: ConnectionRegistry | SwitchBoard, writers: StockWriters,
                 applied: AppliedLevels | None = None, circuits: Circuits = NO_CIRCUITS) -> None:
        self._registry = registry
        self._writers = writers
        self._applied = applied or AppliedLevels()
        self._circuits = circuits  # every cart call goes through its connection's circuit

    def __call__(self, envelope: Envelope) -> Outcome:
        item = _LEVEL.load(envelope.payload)
        connections = self._registry.for_lob(item.lob_id)
        if envelope.connection_id is not None:  # a parked part: only that connection's part is left
            connections = [c for c in connections if c.id == envelope.connection_id]
        if not connections:
            return skipped(f"no connection has LOB {item.lob_id}; SKU {item.sku} was not sent anywhere", "no_connection",
                           extra={"connection_id": envelope.connection_id} if envelope.connection_id else None)
        pushed = [self._push(connection, item, envelope.event_id) for connection in connections]
        _raise_failures(item, pushed)
        parked = [p.parked for p in pushed if p.parked]
        if envelope.connection_id is not None and parked:
            raise parked[0]  # the parked part is still waiting: the engine keeps it where it is
        summary = "; ".join(f"connection {p.connection_id}: {p.note}" for p in pushed)
        return done(f"SKU {item.sku}: {summary}", tuple(p.skip for p in pushed if p.skip),
                    tuple(TargetParked(waiting) for waiting in parked))

    def look_ahead(self, envelopes: list[Envelope]) -> set[str]:
        """The engine's batch hook (its loop thread, so no call): which events a later one makes redundant."""
        return superseded(readable(envelopes))

    def write_ahead(self, envelopes: list[Envelope]) -> None:
        """The engine's work-ahead (a worker, before the batch's events): the newest value per SKU in bulk."""
        items = readable(envelopes)
        redundant = superseded(items)
        self._write_ahead([(event_id, item) for event_id, item in items if event_id not in redundant])

    def _write_ahead(self, latest: list[tuple[str, InventoryLevel]]) -> None:
        by_lob: dict[int, list[tuple[str, InventoryLevel]]] = {}
        for event_id, item in latest:
            by_lob.setdefault(item.lob_id, []).append((event_id, item))
        for lob_id, items in by_lob.items():
            try:
                connections = self._registry.for_lob(lob_id)
            except OutboundError as error:  # switches kept in Infoplus not known yet: the handler waits for them
                log.info("LOB %s: no write-ahead (%s)", lob_id, error.reason)
                continue
            for connection in connections:
                if connection.sync_inventory:
                    self._write_many(connection, items)
                elif connection.previewing("inventory"):
                    self._read_many(connection, items)

    def _read_many(self, connection: Connection, items: list[tuple[str, InventoryLevel]]) -> None:
        """Preview's write-ahead: one bulk lookup for the batch, so each event's own read finds it cached."""
        reader = self._writers.for_connection(connection)
        if len(items) < 2 or not hasattr(reader, "read_stock"):
            return
        try:
            with self._circuits.calling(connection.id):
                reader.read_stock([item.sku for _, item in items])
        except (OutboundError, ConnectionWaiting) as error:  # each event reads for itself, or is parked
            log.info("connection %s: bulk preview read of %d SKUs failed (%s)", connection.id, len(items), error.reason)

    def _write_many(self, connection: Connection, items: list[tuple[str, InventoryLevel]]) -> None:
        pending = self._not_yet_applied(connection, items)
        if len(pending) < 2:
            return  # one SKU costs the same either way: the handler writes it
        try:
            writer = self._writers.for_connection(connection)
            with self._circuits.calling(connection.id):  # an open circuit: not called; the events are parked
                results = writer.set_many([level for level, _ in pending.values()]) \
                    if hasattr(writer, "set_many") else {}
        except (OutboundError, ConnectionWaiting) as error:  # the handler writes them one by one, or parks them
            log.info("connection %s: bulk write of %d SKUs failed (%s); writing them one by one", connection.id,
                     len(pending), error.reason)
            return
        for sku, result in results.items():
            if result.applied and sku in pending:
                self._applied.record(connection.id, *pending[sku])
        log.info("connection %s: wrote %d of %d SKUs ahead in bulk", connection.id,
                 sum(result.applied for result in results.values()), len(pending))

    def _not_yet_applied(self, connection: Connection,
                         items: list[tuple[str, InventoryLevel]]) -> dict[str, tuple[StockLevel, datetime]]:
        pending = {}
        for event_id, item in items:
            version = item.version()
            level = stock_level(item, connection, change_id=f"{event_id}:{connection.id}")
            if self._applied.newer_than(connection.id, item.sku, version) is None \
                    and not self._applied.already(connection.id, level, version):
                pending[item.sku] = (level, version)
        return pending

    def _push(self, connection: Connection, item: InventoryLevel, event_id: str) -> _Pushed:
        previewing = connection.previewing("inventory")
        if not connection.sync_inventory and not previewing:  # read now: flips apply to queued events too
            return _skip(connection, "sync_off", f"Sync Inventory is off for connection {connection.id}; "
                                                 f"SKU {item.sku} was not sent to the cart")
        version = item.version()
        newer = self._applied.newer_than(connection.id, item.sku, version)
        if newer is not None:
            return _skip(connection, "stale", f"SKU {item.sku} as of {item.modified_at} is older than the "
                                              f"{newer.isoformat()} value already applied; dropped")
        if previewing:
            return self._preview(connection, item, event_id)
        level = stock_level(item, connection, change_id=f"{event_id}:{connection.id}")
        if self._applied.already(connection.id, level, version):
            self._applied.record(connection.id, level, version)  # newer, same level: older events stay stale
            return _Pushed(connection.id, "already applied: the cart shows this level from us")
        return self._write(connection, level, version)

    def _preview(self, connection: Connection, item: InventoryLevel, event_id: str) -> _Pushed:
        """Everything but the write: read what the cart shows, record it beside what would be written."""
        level = stock_level(item, connection, change_id=f"{event_id}:{connection.id}")
        reader = self._writers.for_connection(connection)
        if not hasattr(reader, "read_stock"):
            return _skip(connection, "preview_unsupported", f"preview: {connection.platform} cannot read stock "
                                                            f"(carts/base.py StockReader); SKU {item.sku} not written")
        try:
            with self._circuits.calling(connection.id):
                now = reader.read_stock([item.sku])[item.sku]
        except ConnectionWaiting as waiting:
            return _Pushed(connection.id, f"parked: {waiting.reason}", parked=waiting)
        except OutboundError as error:
            return _Pushed(connection.id, f"preview read failed: {error.reason}", error=error)
        would = reader.would_show(level) if now.found else None
        if would is not None and not now.differs_from(would):
            self._applied.record(connection.id, level, item.version())  # once on, this level needs no write
        record = preview_record(item, now, would)
        return _Pushed(connection.id, "preview", skip=TargetSkipped(connection.id, "preview", record["reason"],
                                                                    extra={"preview": record["preview"]}))

    def _write(self, connection: Connection, level: StockLevel, version: datetime) -> _Pushed:
        try:
            with self._circuits.calling(connection.id):
                result = self._writers.for_connection(connection).set_stock(level)
        except ConnectionWaiting as waiting:
            return _Pushed(connection.id, f"parked: {waiting.reason}", parked=waiting)
        except OutboundError as error:
            return _Pushed(connection.id, f"failed: {error.reason}", error=error)
        if not result.applied:
            return _skip(connection, result.code, result.detail)
        self._applied.record(connection.id, level, version)
        return _Pushed(connection.id, result.detail)


def preview_record(item: InventoryLevel, now: CartStock, would: CartStock | None) -> dict:
    """The `preview` field of an inventory preview record, and its reason text (also the resync's)."""
    differs = would is not None and now.differs_from(would)
    preview = {"flow": "inventory", "sku": item.sku, "lob_id": item.lob_id,
               "infoplus": {"orderable_quantity": item.orderable_quantity, "backorder": item.backorder,
                            "modified_at": item.modified_at},
               "cart_now": {"code": now.code, "quantity": now.quantity, "policy": now.policy, "detail": now.detail},
               "would_set": None if would is None else {"quantity": would.quantity, "policy": would.policy},
               "differs": differs}
    if would is None:
        reason = f"preview: SKU {item.sku} would not be written ({now.code}: {now.detail})"
    elif differs:
        policy = "" if would.policy is None or would.policy == now.policy else \
            f", selling at zero {now.policy} -> {would.policy}"
        reason = f"preview: SKU {item.sku} would be set from {_shown(now.quantity)} to {would.quantity}{policy}"
    else:
        reason = f"preview: SKU {item.sku} already shows {would.quantity}; nothing would be written"
    return {"reason": reason + " (nothing written: Sync Inventory is in preview)", "preview": preview}


def _shown(quantity: int | None) -> str:
    return "unmanaged / mixed" if quantity is None else str(quantity)


def readable(envelopes: list[Envelope]) -> list[tuple[str, InventoryLevel]]:
    """(event id, item) for each event whose payload reads; the others will be dead-lettered, and count for nothing."""
    items = []
    for envelope in envelopes:
        try:
            items.append((envelope.event_id, _LEVEL.load(envelope.payload)))
        except ValidationError:
            continue
    return items


def superseded(items: list[tuple[str, InventoryLevel]]) -> set[str]:
    """Events of one batch that a later-versioned event for the same LOB and SKU makes redundant (a tie goes to
    the later arrival)."""
    newest: dict[tuple[int, str], tuple[tuple[datetime, int], str]] = {}
    for position, (event_id, item) in enumerate(items):
        key, rank = (item.lob_id, item.sku), (item.version(), position)
        if key not in newest or rank >= newest[key][0]:
            newest[key] = (rank, event_id)
    kept = {event_id for _, event_id in newest.values()}
    return {event_id for event_id, _ in items if event_id not in kept}


def _skip(connection: Connection, code: str, reason: str) -> _Pushed:
    return _Pushed(connection.id, f"skipped ({code})", skip=TargetSkipped(connection.id, code, reason))


def _raise_failures(item: InventoryLevel, pushed: list[_Pushed]) -> None:
    """Retry the event if any connection failed transiently; dead-letter it if one failed for good."""
    failed = [p for p in pushed if p.error is not None]
    if not failed:
        return
    reason = f"SKU {item.sku}: " + "; ".join(f"connection {p.connection_id}: {p.error.reason}" for p in failed)
    retryable = [p.error for p in failed if isinstance(p.error, Retryable)]
    if retryable:
        waits = [error.retry_after for error in retryable if error.retry_after is not None]
        raise Retryable(reason, retry_after=max(waits) if waits else None, status=retryable[0].status)
    raise Permanent(reason, status=failed[0].error.status,
                    body={str(p.connection_id): p.error.details() if p.error else p.note for p in pushed})


def build(settings: Settings) -> ConsumerEngine:
    switches = SwitchBoard.from_settings(settings, InfoplusClient.from_settings(settings))
    publisher = Publisher(settings)
    store = StateStore(settings, topics.INFOPLUS_INVENTORY, publisher)
    circuits = Circuits.from_settings("inventory", settings, switches.registry)
    handler = InventoryHandler(switches, StockWriters(timeout=settings.http_timeout), AppliedLevels(store), circuits)
    coalesce = {"fetch_min_bytes": FETCH_MIN_BYTES, "fetch_max_wait_ms": settings.inventory_coalesce_ms}
    return ConsumerEngine(kind="inventory", topic=topics.INFOPLUS_INVENTORY, handler=handler, settings=settings,
                          publisher=publisher, look_ahead=handler.look_ahead, work_ahead=handler.write_ahead,
                          kafka_options=coalesce, state=store,
                          circuits=circuits, connection_of=connection_of_infoplus_event(switches.registry))


def main() -> None:
    run_consumer(build)


if __name__ == "__main__":
    main()
