"""Issue 23: the poller's Infoplus cost stays flat as merchants (LOBs) are added — one search per source per cycle
across every LOB, rows of LOBs without a connection dropped and counted, one cursor per source upgraded from the
cursors per LOB — while a change still reaches its cart within two intervals with 300 LOBs connected."""
from __future__ import annotations

import json
import time

import pytest

from events import topics
from events.cursors import CursorStore
from events.publisher import Publisher
from poller.cursors import upgraded
from poller.poller import CURSOR_TOPIC
from poller.sources import Cursor
from sandbox.infoplus import now_iso
from tests.consumers.tracking_support import infoplus_order
from tests.support.kafka import read_topic
from tests.support.metrics import scrape, start_with_metrics, value
from tests.support.world import eventually

LOBS = [20000 + n for n in range(300)]
WAIT = 60


@pytest.fixture
def world(world):
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.5", "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "60"})
    return world


def connect_300_lobs(world, **switches: bool) -> dict[int, int]:
    """One Shopify connection on each of the 300 LOBs; returns LOB -> connection id."""
    ids = {lob: 1000 + n for n, lob in enumerate(LOBS)}
    world.connections = [world.shopify_connection(id=ids[lob], lob_id=lob, **switches) for lob in LOBS]
    world.write_connections()
    return ids


def heartbeats(world) -> list[dict]:
    """The `status:poller` records the leader writes after each whole cycle, oldest first."""
    records = read_topic(world.bootstrap, world.prefix + CURSOR_TOPIC, expect=1, timeout=10)
    return [json.loads(r.value) for r in sorted(records, key=lambda r: r.offset)
            if r.key == b"status:poller" and r.value]


def published_skus(world) -> set[str]:
    return {level["payload"]["sku"] for level in world.read(topics.INFOPLUS_INVENTORY, expect=0, timeout=3)}


def test_with_300_lobs_a_changed_item_and_shipment_reach_their_carts_within_two_intervals(world):
    interval = 15.0
    world.overrides.update({"INFOPLUS_POLL_SECONDS": str(interval), "INFOPLUS_CALLS_PER_SECOND": "2.9"})
    # Sync Inventory on everywhere: 300 resyncs want to start at first sight, and must not hold the cycles up.
    # The two LOBs changed below come last in the file, so their own resyncs are not what carries the change.
    ids = connect_300_lobs(world, sync_inventory=True, sync_tracking_data=True)
    item_lob, shipment_lob = LOBS[-1], LOBS[-2]
    world.shopify.add_variant("SKU-FAR", quantity=3)
    world.infoplus.add_item(item_lob, "SKU-FAR", 3)
    world.shopify.add_order(9501, [{"sku": "SKU-SHIPPED", "quantity": 1}])
    order = infoplus_order(world, 9501, {"SKU-SHIPPED": 1}, connection_id=ids[shipment_lob], lob_id=shipment_lob)
    world.start_consumer("inventory")
    world.start_consumer("tracking")
    world.start_poller()
    eventually(lambda: heartbeats(world), 120, interval=1, message="a whole first cycle")

    changed_at = time.monotonic()
    world.infoplus.set_orderable(item_lob, "SKU-FAR", 17)
    world.infoplus.add_shipment(order["orderNo"], "1Z-FAR", "UPS", lob_id=shipment_lob)

    eventually(lambda: world.shopify.available("SKU-FAR") == 17, 4 * interval + WAIT, message="the cart shows 17")
    item_seconds = time.monotonic() - changed_at
    eventually(lambda: world.shopify.fulfillments(9501), 4 * interval + WAIT, message="the fulfillment")
    shipment_seconds = time.monotonic() - changed_at
    print(f"300 LOBs, every {interval:.0f} s: item in the cart after {item_seconds:.1f} s, "
          f"shipment after {shipment_seconds:.1f} s")
    assert item_seconds <= 2 * interval and shipment_seconds <= 2 * interval


def test_with_300_lobs_and_nothing_changing_a_cycle_costs_at_most_two_searches(world):
    connect_300_lobs(world)
    for lob in LOBS[::50]:
        world.infoplus.add_item(lob, f"SKU-{lob}", 1)  # some pages are not empty
    world.start_poller()

    cycles = eventually(lambda: (seen := heartbeats(world)) and len(seen) >= 6 and seen, 120, interval=1,
                        message="six whole cycles")
    calls = [later["infoplus_calls"] - earlier["infoplus_calls"] for earlier, later in zip(cycles, cycles[1:])]
    print(f"Infoplus calls per cycle with 300 LOBs and nothing changing: {calls}")
    assert all(n <= 2 for n in calls), calls
    filters = {call.query.get("filter", "") for call in world.infoplus.calls if call.path.endswith("/search")}
    assert not any("lobId" in text for text in filters), filters


def test_rows_of_a_lob_without_a_connection_are_counted_and_not_published(world):
    world.infoplus.add_item(99999, "ELSEWHERE", 1)  # the API user sees every LOB of the 3PL
    world.infoplus.add_shipment(5000.0, "1Z-ELSEWHERE", lob_id=99999)
    world.infoplus.add_item(10000, "OURS", 2)  # connection 101's LOB, changed after the others
    _, metrics = start_with_metrics(world, "poller")

    eventually(lambda: "OURS" in published_skus(world), WAIT, message="the connected LOB's item")
    assert published_skus(world) == {"OURS"}
    assert world.read(topics.INFOPLUS_SHIPMENTS, expect=0, timeout=2) == []

    def unconnected(source: str) -> float:
        text = scrape(metrics + "/metrics", wait=30)
        return value(text, "cartbridge_poller_unconnected_rows_total", source=source, lob="99999")

    eventually(lambda: unconnected("inventory") == 1 and unconnected("shipments") == 1, WAIT,
               message="the rows of LOB 99999 counted")


def save_cursors_per_lob(world, cursors: dict[str, str]) -> None:
    """What the poller before issue 23 left on the cursor topic: one cursor per source and LOB."""
    settings = world.settings()
    publisher = Publisher(settings)
    try:
        store = CursorStore(settings, CURSOR_TOPIC, publisher)
        store.load()  # creates the compacted topic, as the poller does
        for key, since in cursors.items():
            store.save(key, {"since": since, "ids_at_since": []})
    finally:
        publisher.close()


def test_an_upgrade_from_cursors_per_lob_loses_no_change(world):
    world.overrides["INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS"] = "0"
    world.connections = [world.shopify_connection(id=101, lob_id=10000), world.shopify_connection(id=102, lob_id=20000)]
    world.write_connections()
    world.infoplus.add_item(10000, "A-SEEN", 1)
    behind = now_iso()  # LOB 10000's cursor: the old poller had published A-SEEN, not what follows
    world.infoplus.add_item(10000, "A-UNSEEN", 2)
    world.infoplus.add_item(20000, "B-SEEN", 3)
    ahead = now_iso()  # LOB 20000's cursor, further on
    save_cursors_per_lob(world, {"inventory:10000": behind, "shipments:10000": behind,
                                 "inventory:20000": ahead, "shipments:20000": ahead})
    world.start_poller()
    world.infoplus.add_item(20000, "B-NEW", 4)

    eventually(lambda: {"A-UNSEEN", "B-NEW"} <= published_skus(world), WAIT, message="the changes not yet seen")
    assert "A-SEEN" not in published_skus(world)  # it started at the oldest cursor, not further back
    searches = [call.query["filter"] for call in world.infoplus.calls if call.path.endswith("item/search")]
    assert behind in searches[0], searches[0]
    assert not any("lobId" in text for text in searches), searches


def test_shipments_of_several_lobs_cost_one_order_page_not_a_get_each(world):
    lobs = (10000, 20000, 30000)
    world.connections = [world.shopify_connection(id=101 + n, lob_id=lob, sync_tracking_data=True)
                         for n, lob in enumerate(lobs)]
    world.write_connections()
    for n, lob in enumerate(lobs):  # one shipment per LOB, all in Infoplus before the first poll: one page
        world.shopify.add_order(9601 + n, [{"sku": "SKU-1", "quantity": 1}])
        order = infoplus_order(world, 9601 + n, {"SKU-1": 1}, connection_id=101 + n, lob_id=lob)
        world.infoplus.add_shipment(order["orderNo"], f"1Z-LOB-{n}", "UPS", lob_id=lob)
    world.start_poller()
    world.start_consumer("tracking")

    for n in range(len(lobs)):
        eventually(lambda: world.shopify.fulfillments(9601 + n), WAIT, message=f"fulfillment {n}")
    assert world.infoplus.count("GET", r"/order/\d") == 0, "each shipment's order was read one by one"
    assert len([call for call in world.infoplus.calls if call.path.endswith("order/search")]) == 1


def test_the_upgraded_cursor_is_the_oldest_of_the_connected_lobs_with_the_ids_seen_there():
    saved = {"inventory:1": {"since": "2026-01-02T00:00:00.000Z", "ids_at_since": [5]},
             "inventory:2": {"since": "2026-01-01T00:00:00.000Z", "ids_at_since": [7]},
             "inventory:3": {"since": "2025-01-01T00:00:00.000Z", "ids_at_since": [9]},  # LOB 3: no connection now
             "shipments:1": {"since": "2026-01-03T00:00:00.000Z", "ids_at_since": [1]}}
    never_polled = "2026-01-05T00:00:00.000Z"
    assert upgraded("inventory", saved, [1, 2, 4], never_polled) == Cursor("2026-01-01T00:00:00.000Z", [7])
    assert upgraded("shipments", saved, [1, 2], never_polled) == Cursor("2026-01-03T00:00:00.000Z", [1])
    assert upgraded("shipments", saved, [1, 2], "2026-01-02T00:00:00.000Z") == Cursor("2026-01-02T00:00:00.000Z")
    assert upgraded("inventory", saved, [4], never_polled) is None  # nothing to upgrade: a first start
