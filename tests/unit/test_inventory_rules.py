"""The inventory rules that need no broker: latest value wins, what is sent for backorder, pacing, SKU caching."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from carts.skus import SkuCache
from consumers.inventory import AppliedLevels, readable, stock_level
from consumers.inventory import superseded as superseded_items
from events.infoplus import inventory_event
from outbound.pacing import PacedSession
from schemas.connection import Connection
from schemas.envelope import Envelope
from schemas.infoplus import InventoryLevel

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def event(sku: str, quantity: int, at: datetime, lob: int = 10000) -> Envelope:
    level = InventoryLevel(lob_id=lob, sku=sku, orderable_quantity=quantity, backorder=False,
                           modified_at=at.isoformat())
    return inventory_event(level, None, "infoplus")[2]


def connection(**fields) -> Connection:
    return Connection(**{"id": 101, "name": "Acme", "platform": "shopify", "lob_id": 10000, "order_source_id": 55,
                         "warehouse_id": 1000, "default_carrier_id": 1, "webhook_secret": "s", **fields})


def superseded(envelopes: list[Envelope]) -> set[str]:
    return superseded_items(readable(envelopes))


def test_in_one_batch_only_the_newest_event_per_sku_is_kept():
    a1, b1, a2, a3 = event("A", 1, T0), event("B", 1, T0), event("A", 2, T0 + timedelta(seconds=2)), \
        event("A", 3, T0 + timedelta(seconds=1))
    assert superseded([a1, b1, a2, a3]) == {a1.event_id, a3.event_id}


def test_same_version_the_later_arrival_wins_and_lobs_do_not_mix():
    first, second, other_lob = event("A", 1, T0), event("A", 2, T0), event("A", 3, T0, lob=20000)
    assert superseded([first, second, other_lob]) == {first.event_id}


def test_an_unreadable_payload_supersedes_nothing():
    good = event("A", 1, T0)
    broken = Envelope(event_id="x", type="t", connection_id=None, source="s", received_at="r",
                      payload={"sku": "A", "lob_id": 10000})
    assert superseded([good, broken]) == set()


def test_offsets_compare_as_times_not_text():
    applied = AppliedLevels()
    level = stock_level(InventoryLevel(10000, "A", 5, False, "2026-11-27T12:00:00+02:00"), connection(), "c")
    applied.record(101, level, datetime.fromisoformat("2026-11-27T12:00:00+02:00"))
    assert applied.newer_than(101, "A", datetime.fromisoformat("2026-11-27T10:30:00+00:00")) is None
    assert applied.newer_than(101, "A", datetime.fromisoformat("2026-11-27T09:30:00+00:00")) is not None
    assert applied.newer_than(102, "A", datetime.fromisoformat("2026-11-27T09:30:00+00:00")) is None


def test_backorder_is_sellable_at_zero_unless_the_connection_stops_sales_and_negatives_show_as_zero():
    backordered = InventoryLevel(10000, "A", -3, True, T0.isoformat())
    assert stock_level(backordered, connection(), "c").sellable_at_zero is True
    assert stock_level(backordered, connection(stop_sales_at_zero=True), "c").sellable_at_zero is False
    assert stock_level(backordered, connection(), "c").quantity == 0
    no_backorder = InventoryLevel(10000, "A", 4, False, T0.isoformat())
    assert stock_level(no_backorder, connection(), "c").sellable_at_zero is False


def test_paced_session_spaces_requests_evenly():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    session = PacedSession(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        session._wait_for_turn()
    assert slept == [0.25, 0.25, 0.25, 0.25] and session.calls == 5


def test_sku_cache_remembers_misses_until_they_expire():
    now = [0.0]
    fetched: list[str] = []
    cache: SkuCache[tuple] = SkuCache(ttl=60, clock=lambda: now[0])

    def fetch(sku: str) -> tuple:
        fetched.append(sku)
        return ()

    cache.lookup("X", fetch)
    cache.lookup("X", fetch)
    now[0] = 61
    cache.lookup("X", fetch)
    assert fetched == ["X", "X"]
