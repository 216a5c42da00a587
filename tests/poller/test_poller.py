"""The poller against the Infoplus stand-in and a real broker: what changes there becomes events here."""
from __future__ import annotations

import time

import pytest

from events import topics
from tests.support.world import eventually

LOB = 10000


@pytest.fixture
def world(world):
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.5", "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "60"})
    return world


def shipment_events(world, expect: int, timeout: float = 45) -> list[dict]:
    return world.read(topics.INFOPLUS_SHIPMENTS, expect=expect, timeout=timeout)


def test_new_shipments_and_item_changes_are_published(world):
    world.infoplus.add_item(LOB, "SKU-1", 10)
    world.start_poller()
    world.infoplus.add_shipment(1000.0, "1Z-A", lob_id=LOB)
    world.infoplus.set_orderable(LOB, "SKU-1", 7)

    [shipment] = shipment_events(world, 1)
    assert shipment["payload"]["tracking_no"] == "1Z-A" and shipment["source"] == "infoplus-poller"
    levels = world.read(topics.INFOPLUS_INVENTORY, expect=1, timeout=45)
    assert levels[-1]["payload"]["orderable_quantity"] == 7


def test_killed_and_restarted_it_misses_nothing_and_publishes_nothing_twice(world):
    poller = world.start_poller()
    for n in range(5):
        world.infoplus.add_shipment(1000.0 + n, f"1Z-{n}", lob_id=LOB)
    shipment_events(world, 5)
    poller.kill()

    for n in range(5, 8):  # changed while no poller ran
        world.infoplus.add_shipment(1000.0 + n, f"1Z-{n}", lob_id=LOB)
    world.start_poller()
    world.infoplus.add_shipment(1010.0, "1Z-10", lob_id=LOB)

    events = shipment_events(world, 9)
    time.sleep(3)
    events = shipment_events(world, 9)
    tracking = sorted(e["payload"]["tracking_no"] for e in events)
    assert tracking == sorted([f"1Z-{n}" for n in range(8)] + ["1Z-10"])


def test_two_copies_poll_as_one(world):
    world.start_poller()
    world.start_poller()
    time.sleep(3)  # both joined; one leads
    for n in range(3):
        world.infoplus.add_shipment(2000.0 + n, f"1Z-B{n}", lob_id=LOB)

    shipment_events(world, 3)
    time.sleep(3)
    assert len(shipment_events(world, 3)) == 3


def test_a_rate_limited_infoplus_slows_it_down_and_it_catches_up(world):
    world.overrides["INFOPLUS_CALLS_PER_SECOND"] = "20"  # more than the stand-in will take
    world.start_poller()
    world.infoplus.add_shipment(3000.0, "1Z-C0", lob_id=LOB)
    shipment_events(world, 1)  # the poller leads and polls

    world.infoplus.rate_limit(1)
    for n in range(1, 12):
        world.infoplus.add_shipment(3000.0 + n, f"1Z-C{n}", lob_id=LOB)
        time.sleep(0.1)

    events = shipment_events(world, 12, timeout=60)
    assert len({e["payload"]["tracking_no"] for e in events}) == 12
    assert world.infoplus.throttled > 0


def test_a_change_after_a_quiet_first_poll_is_not_skipped(world):
    """The starting point of a first poll is fixed once, not re-taken from the clock at every empty poll."""
    world.overrides["INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS"] = "0"
    world.overrides["INFOPLUS_POLL_SECONDS"] = "3"
    world.infoplus.add_item(LOB, "SKU-Q", 1)
    world.start_poller()
    world.read("infoplus.poller.cursors", expect=1, timeout=45)  # the first poll has fixed its starting point
    time.sleep(4)  # and a later poll found nothing new
    world.infoplus.set_orderable(LOB, "SKU-Q", 2)
    time.sleep(1)  # the change is older than the next poll's "now"

    [level] = world.read(topics.INFOPLUS_INVENTORY, expect=1, timeout=45)
    assert level["payload"]["orderable_quantity"] == 2


def test_more_than_a_page_of_records_sharing_one_modify_date_are_all_published(world):
    """A bulk update in Infoplus gives hundreds of items one modifyDate: keyset paging alone would stall there."""
    world.start_poller()
    world.infoplus.add_shipment(4000.0, "1Z-D0", lob_id=LOB)
    shipment_events(world, 1)  # leading and polling
    same_instant = world.infoplus.add_item(LOB, "BULK-000", 1)["modifyDate"]
    for n in range(1, 300):
        world.infoplus.add_item(LOB, f"BULK-{n:03d}", 1, modifyDate=same_instant)

    levels = world.read(topics.INFOPLUS_INVENTORY, expect=300, timeout=60)
    assert len({level["payload"]["sku"] for level in levels}) == 300
    time.sleep(2)  # later cycles publish none of them again
    assert len(world.read(topics.INFOPLUS_INVENTORY, expect=300, timeout=5)) == 300
