"""Poller copies joining and leaving in the middle of long poll cycles: only one copy ever polls Infoplus at a time,
and no cursor ever moves backwards (leadership checked before each page and each cursor save; cursors re-read on
every new leadership term)."""
from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

import pytest

from poller.poller import CURSOR_TOPIC
from tests.support.kafka import read_topic
from tests.support.world import eventually

LOBS = (10000, 20000, 30000)
WAIT = 60


@pytest.fixture
def world(world):
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.2", "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "60"})
    world.connections = [world.shopify_connection(id=101 + n, lob_id=lob) for n, lob in enumerate(LOBS)]
    world.write_connections()
    world.infoplus.delay(1.0, r"/search")  # a cycle of 2 searches takes about 2 s: rebalances land inside one
    return world


def keep_changing_items(world, stop: threading.Event) -> None:
    """Infoplus keeps changing, so every cycle moves cursors."""
    n = 0
    while not stop.wait(0.25):
        n += 1
        for lob in LOBS:
            world.infoplus.add_item(lob, f"SKU-{n}", n)


def cursor_history(world) -> dict[str, list[str]]:
    records = read_topic(world.bootstrap, world.prefix + CURSOR_TOPIC, expect=1)
    history: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.offset):
        key = record.key.decode()
        if key.partition(":")[0] in ("inventory", "shipments") and record.value:
            history[key].append(json.loads(record.value)["since"])
    return history


def assert_cursors_only_forward(world) -> None:
    # cursors did move meanwhile (on a loaded machine a cycle can outlast the joins and leaves: wait for a second save)
    history = eventually(lambda: (h := cursor_history(world)) and any(len(v) > 1 for v in h.values()) and h, WAIT,
                         message="a cursor saved twice")
    for key, values in history.items():
        assert values == sorted(values), f"{key} moved backwards: {values}"


@pytest.fixture
def changing(world):
    stop = threading.Event()
    changer = threading.Thread(target=keep_changing_items, args=(world, stop), daemon=True)
    changer.start()
    yield
    stop.set()
    changer.join(timeout=5)


def test_copies_joining_and_leaving_mid_cycle_never_poll_together_and_cursors_never_go_back(world, changing):
    first = world.start_poller()
    eventually(lambda: "leadership acquired" in first.output(), WAIT, message="a leader")
    copies = [first]
    for _ in range(2):  # two more copies join, then both leave: four rebalances, each inside a cycle
        time.sleep(1.5)
        copies.append(world.start_poller())
        # a copy stopped before it handles SIGTERM (a loaded machine: still importing) would end -15
        eventually(lambda: "poller started" in copies[-1].output(), WAIT, message="the copy runs")
    for copy in copies[1:]:
        time.sleep(1.5)
        assert copy.terminate() == 0
    time.sleep(2)

    assert world.infoplus.in_flight_peak == 1, "two copies polled Infoplus at the same time"
    assert_cursors_only_forward(world)


def test_a_leader_frozen_mid_cycle_stops_polling_when_it_wakes_to_find_a_new_leader(world, changing):
    old = world.start_poller()
    eventually(lambda: "leadership acquired" in old.output(), WAIT, message="a leader")
    new = world.start_poller()
    time.sleep(2)  # the standby has joined
    old.freeze()  # mid-cycle (a cycle takes ~2 s): its session (2 s) expires, the standby takes over
    try:
        eventually(lambda: "leadership acquired" in new.output(), WAIT, message="the standby leads")
        time.sleep(1)
    finally:
        old.thaw()  # it wakes in the middle of its old cycle, its cursors older than the new leader's
    eventually(lambda: "poll cycle stopped: another copy leads now" in old.output(), WAIT,
               message="the old leader noticed at its next page or cursor save")
    time.sleep(2)

    # A process frozen between its leadership check and its next step takes that one step on waking (only a
    # fencing token could stop it): one call overlapping the new leader's (counted at most twice, whichever began
    # second), or one cursor save — which can move a cursor back once. It then stops, and never polls on.
    print(f"overlapping Infoplus calls after the old leader woke: {world.infoplus.overlapping}")
    assert world.infoplus.in_flight_peak <= 2 and world.infoplus.overlapping <= 2
    assert old.running() and new.running()
