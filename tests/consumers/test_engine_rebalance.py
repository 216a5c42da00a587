"""The consumer engine under rebalances, with real consumer processes on the real broker: nothing stalls, nothing is
forgotten, no event is handled by two owners (kafka-python 3.0.12 behaviour: consumers/partitions.py)."""
from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter

from events.envelopes import make_envelope
from events.publisher import Publisher
from consumers.engine import ConsumerEngine
from consumers.outcomes import done, skipped
from sandbox.sample import shopify_order
from tests.consumers.test_engine_retry import one_partition_settings
from tests.support.world import eventually

WAIT = 60


def assignments(process) -> int:
    return process.output().count(": assigned [")


def orders_created(world) -> Counter:
    return Counter(order["customerOrderNo"] for order in world.infoplus.orders)


def test_partitions_in_back_off_survive_a_copy_joining_and_leaving_and_every_order_arrives_once(world):
    world.infoplus.fail_next(100_000, 500)  # Infoplus down: every partition goes into back-off
    first = world.start_consumer("orders")
    ids = list(range(8101, 8109))  # spread over the topic's three partitions
    for order_id in ids:
        assert world.post_shopify_order(shopify_order(order_id=order_id)).status_code == 202
    eventually(lambda: first.output().count("retrying") >= 6, WAIT, message="partitions in back-off")

    second = world.start_consumer("orders")  # joins: rebalance 1
    eventually(lambda: assignments(second) >= 1 and assignments(first) >= 2, WAIT, message="second copy joined")
    time.sleep(1)  # both in back-off now
    assert second.terminate() == 0  # leaves: rebalance 2
    eventually(lambda: assignments(first) >= 3, WAIT, message="partitions back with the first copy")

    world.infoplus.reset_faults()  # Infoplus is back

    expected = {f"101-{order_id}": 1 for order_id in ids}
    eventually(lambda: orders_created(world) == expected, 20,  # back-off is at most 2 s here
               message=f"every order once; have {orders_created(world)}")
    time.sleep(2)
    assert orders_created(world) == expected


def test_a_batch_slower_than_max_poll_interval_keeps_its_member_and_no_event_is_handled_twice(world):
    # 4 s max.poll.interval: a poll's work stops after 1.6 s; each order takes about 2 s of Infoplus time.
    world.overrides["KAFKA_MAX_POLL_INTERVAL_MS"] = "4000"
    world.infoplus.delay(1.0, r"/order")
    copies = [world.start_consumer("orders"), world.start_consumer("orders")]
    eventually(lambda: all(assignments(copy) for copy in copies), WAIT, message="both copies assigned")
    ids = list(range(8201, 8213))
    for order_id in ids:
        assert world.post_shopify_order(shopify_order(order_id=order_id)).status_code == 202

    expected = {f"101-{order_id}": 1 for order_id in ids}
    eventually(lambda: orders_created(world) == expected, 90, message=f"every order; have {orders_created(world)}")

    def handled() -> Counter:
        return Counter(re.findall(r"done event_id=(\S+)", "".join(copy.output() for copy in copies)))

    # The last order reaches Infoplus a moment before its consumer writes the "done" line.
    eventually(lambda: len(handled()) == len(ids), 20, message="a done line for every event")
    logs = "".join(copy.output() for copy in copies)
    assert set(handled().values()) == {1}, handled()
    assert "lost [" not in logs and "commit failed" not in logs
    assert "max_poll_interval_ms" not in logs  # kafka-python's warning when a member overran it


def test_a_skipped_event_replayed_twice_is_handled_once_its_switch_is_on(kafka_bootstrap):
    settings = one_partition_settings(kafka_bootstrap)
    publisher = Publisher(settings)
    switch = {"on": False}
    handled: list[str] = []

    def handler(envelope):
        if not switch["on"]:
            return skipped("Sync Orders is off")
        handled.append(envelope.event_id)
        return done("created")

    original = make_envelope(event_type="t", source="test", connection_id=None, dedupe_key="o1", payload={})
    replay = make_envelope(event_type="t", source="replay", connection_id=None, dedupe_key="o1", payload={})
    engine = ConsumerEngine(kind=f"replaytest{uuid.uuid4().hex[:6]}", topic="engine.replay", handler=handler,
                            settings=settings, publisher=publisher)

    runner = threading.Thread(target=engine.run, daemon=True)
    runner.start()
    try:
        publisher.publish("engine.replay", "k", original)
        eventually(lambda: engine.counts["skipped"] == 1, 30, message="skipped: switch off")
        publisher.publish("engine.replay", "k", replay)  # replayed while the switch still reads off
        eventually(lambda: engine.counts["skipped"] == 2, 30, message="the replay skipped too")
        switch["on"] = True
        publisher.publish("engine.replay", "k", replay)  # replayed again: the same deterministic id
        eventually(lambda: handled, 30, message="the second replay handled")
    finally:
        engine.stop()
        runner.join(timeout=30)
    assert handled == [replay.event_id] and engine.counts["duplicate"] == 0
