"""Many events in flight per consumer process, still in order per key (issue 24), on the real broker.

The first three drive a ConsumerEngine in this process with a test handler (called from the engine's worker threads:
everything it records is under a lock); the last two run the real `tracking` consumer against the Shopify stand-in.
Each needs more than one event in flight at some point, which an engine handling one event at a time never has:
that is where the serial engine fails each of them (issue 24 has the figures)."""
from __future__ import annotations

import contextlib
import json
import threading
import time

from consumers.engine import ConsumerEngine
from consumers.outcomes import done
from events import topics
from events.publisher import Publisher
from tests.consumers.test_connection_outage import shopify_carton, shopify_fulfilled, started
from tests.consumers.test_tracking_shopify import numbers
from tests.consumers.tracking_support import enable_tracking, infoplus_order, push
from tests.support.concurrency import (CONCURRENCY, CommittedOffsets, CommitWatch, Effects, InFlight, Traffic,
                                       engine_settings, numbered, running, stop, wait_until)
from tests.support.world import eventually

TOPIC = "engine.concurrency"
KIND = "concurrency"
WAIT = 60  # seconds: the machine is shared with other test runs
CONCURRENCY_ENV = {name.upper(): str(value) for name, value in CONCURRENCY.items()}  # for consumer processes


def handler_of(handle):
    """A handler that runs `handle(key, seq)` and reports the event done."""
    def handler(envelope):
        handle(envelope.payload["key"], envelope.payload["seq"])
        return done("handled")
    return handler


def publish(settings, events) -> None:
    topics.ensure_topics(settings, [TOPIC])  # with the settings' partition count, not the broker's default
    with contextlib.closing(Publisher(settings)) as publisher:
        publisher.publish_many(TOPIC, [(event.payload["key"], event) for event in events])


# -- key order -----------------------------------------------------------------------------------------------------
def test_one_keys_fifty_updates_run_one_at_a_time_in_offset_order_while_other_keys_run_beside_them(kafka_bootstrap):
    settings = engine_settings(kafka_bootstrap, partitions=1)  # one partition: the keys interleave in it
    publish(settings, [numbered(key, n) for n in range(50) for key in ("sku-hot", f"sku-{n}")])
    in_flight, lock, applied, handled = InFlight(), threading.Lock(), [], []

    def handle(key, seq):
        with in_flight.handling(key):
            time.sleep(0.05)  # a cart call
            with lock:
                handled.append(key)
                if key == "sku-hot":
                    applied.append(seq)

    engine = ConsumerEngine(kind=KIND, topic=TOPIC, handler=handler_of(handle), settings=settings)
    with running(engine):
        eventually(lambda: len(handled) >= 100, WAIT, message="all 100 events handled")

    assert applied == list(range(50)), "the hot key's updates in offset order, each once (the last level is 49)"
    assert in_flight.most_per_key["sku-hot"] == 1, "never two updates of one key at once"
    assert len(handled) == 100
    assert in_flight.most_overall > 1, "other keys' events ran beside the hot key's"


# -- commits -------------------------------------------------------------------------------------------------------
def test_a_slow_event_keeps_the_commit_from_passing_it_while_the_events_after_it_are_handled(kafka_bootstrap):
    settings = engine_settings(kafka_bootstrap, partitions=1)
    slow_offset = 3  # one partition, a fresh topic: offsets are the publish order
    first = [numbered(f"fast-{n}", 0) for n in range(slow_offset)] + [numbered("slow", 0)] + \
        [numbered(f"fast-{n}", 0) for n in range(slow_offset, 23)]
    then = [numbered(f"later-{n}", 0) for n in range(20)]
    slow_started, release, lock, fast = threading.Event(), threading.Event(), threading.Lock(), set()

    def handle(key, seq):
        if key == "slow":
            slow_started.set()
            release.wait(WAIT * 3)  # a cart call that takes its time; released by the test
            return
        with lock:
            fast.add(key)

    engine = ConsumerEngine(kind=KIND, topic=TOPIC, handler=handler_of(handle), settings=settings)
    offsets = CommittedOffsets(settings, KIND, TOPIC)
    try:
        with running(engine):
            try:
                with CommitWatch(offsets, partition=0) as watch:
                    publish(settings, first)
                    eventually(lambda: slow_started.is_set() and len(fast) == len(first) - 1, WAIT,
                               message="the fast events after the slow one handled while it is still running")
                    publish(settings, then)  # handled in later polls: the engine commits meanwhile
                    eventually(lambda: len(fast) == len(first) - 1 + len(then), WAIT, message="later ones too")
                    samples = watch.samples
                    eventually(lambda: watch.samples >= samples + 3, WAIT, message="the commits read again")
                assert watch.highest is None or watch.highest <= slow_offset, \
                    f"committed {watch.highest} while the event at {slow_offset} was still being handled"
            finally:
                release.set()
            assert wait_until(offsets.caught_up, WAIT), \
                f"committed {offsets.read()} of {offsets.ends()}: past every event once the slow one is done"
    finally:
        offsets.close()


# -- rebalances ----------------------------------------------------------------------------------------------------
def effect_making_handler(name: str, effects: Effects, in_flight: InFlight):
    """Like a real flow: look whether the effect is there, make the slow outside call, write it."""
    def handle(key, seq):
        event_id = f"{key}:{seq}"
        with effects.handled_by(name, event_id), in_flight.handling(key):
            if effects.already_written(event_id):
                return  # a redelivery after a rebalance finds it written
            time.sleep(0.5)  # the cart call
            effects.write(name, event_id, key, seq)
    return handler_of(handle)


def test_a_copy_joining_and_leaving_while_many_events_are_in_flight_loses_none_and_doubles_none(kafka_bootstrap):
    settings = engine_settings(kafka_bootstrap, partitions=3)
    topics.ensure_topics(settings, [TOPIC])  # three partitions, before the traffic's first event
    effects = Effects()
    in_flight = {name: InFlight() for name in ("first", "second")}
    first, second = (ConsumerEngine(kind=KIND, topic=TOPIC, settings=settings,
                                    handler=effect_making_handler(name, effects, in_flight[name]))
                     for name in ("first", "second"))
    offsets = CommittedOffsets(settings, KIND, TOPIC)
    try:
        # 40 keys, each its own connection (the per-connection cap does not bind); 60 events/s of 0.5 s each.
        with Traffic(settings, TOPIC, keys=40, per_second=60) as traffic, running(first):
            eventually(lambda: in_flight["first"].total >= 20, WAIT, interval=0.05,
                       message="20 or more events in flight in the first copy (about 30 arrive per 0.5 s)")
            with running(second) as second_runner:  # joins while they are in flight
                eventually(lambda: effects.written_by("second") >= 10 and in_flight["second"].total >= 3, WAIT,
                           interval=0.05, message="the second copy works, several events in flight")
                stop(second, second_runner)  # leaves while they are in flight
            written_by_first = effects.written_by("first")
            eventually(lambda: effects.written_by("first") >= written_by_first + 30, WAIT,
                       message="the first copy goes on alone")
            traffic.stop()
            published = {f"{event.payload['key']}:{event.payload['seq']}" for event in traffic.published}
            wait_until(lambda: effects.count() >= len(published), WAIT)
            assert set(effects.written) == published, f"none lost; missing {sorted(published - set(effects.written))}"
            assert wait_until(offsets.caught_up, WAIT), \
                f"committed {offsets.read()} of {offsets.ends()}: every event, so nothing is handled after this"
    finally:
        offsets.close()

    assert {event: writers for event, writers in effects.written.items() if len(writers) > 1} == {}, "none doubled"
    assert effects.overlaps == [], "no event handled by both copies at once"
    for key, seqs in effects.order.items():
        assert seqs == list(range(len(seqs))), f"{key}'s events written in offset order"


# -- the tracking consumer: a real process, the Shopify stand-in ---------------------------------------------------
def how_many_fulfilled(world, order_ids: list[int]) -> int:
    return sum(1 for order_id in order_ids if world.shopify.fulfillments(order_id))


def wait_all_committed(world) -> None:
    """Until tracking's group has committed every shipment event: none is handled after that."""
    offsets = CommittedOffsets(world.settings(), "tracking", topics.INFOPLUS_SHIPMENTS)
    try:
        assert wait_until(offsets.caught_up, WAIT), f"tracking committed {offsets.read()} of {offsets.ends()}"
    finally:
        offsets.close()


def test_sigkill_with_shipments_in_flight_then_a_restart_writes_every_shipment_once(world):
    enable_tracking(world)
    world.overrides.update(CONCURRENCY_ENV)
    order_ids = list(range(900, 930))
    cartons = [shopify_carton(world, order_id) for order_id in order_ids]
    world.shopify.delay(0.3)  # every cart call takes a while: the kill lands on calls under way
    first = started(world)

    push(world, *cartons)
    eventually(lambda: world.shopify.in_flight >= 2 and how_many_fulfilled(world, order_ids) >= 3, WAIT, interval=0.02,
               message="several shipments in flight in the one tracking process")
    first.kill()  # SIGKILL: nothing committed for the shipments in flight, no goodbye
    assert how_many_fulfilled(world, order_ids) < len(order_ids), "the kill must land mid-stream"

    started(world)
    eventually(lambda: shopify_fulfilled(world, order_ids), WAIT, message="every shipment written after the restart")
    wait_all_committed(world)
    for order_id in order_ids:
        [fulfillment] = world.shopify.fulfillments(order_id)
        assert numbers(fulfillment) == [f"1ZSHOP{order_id}"], f"order {order_id}: its tracking number once"


HELD_AT_MOST = 8.0  # seconds: under the consumer's 10 s read timeout, so the slow answer is an answer, not a failure


class SlowWrite:
    """The Shopify stand-in answers the first write carrying `number` slowly: held until released."""

    def __init__(self, shopify, number: str) -> None:
        self.holding = threading.Event()
        self._released = threading.Event()
        self._number = number
        self._lock = threading.Lock()
        answer = shopify.dispatch

        def dispatch(req):
            if self._takes(req):
                self._released.wait(HELD_AT_MOST)
            return answer(req)

        shopify.dispatch = dispatch  # the stand-in's request threads look it up on the instance

    def _takes(self, req) -> bool:
        body = req.json if isinstance(req.json, dict) else {}
        writes = str(body.get("query", "")).lstrip().startswith("mutation")
        if not writes or self._number not in json.dumps(body.get("variables")):
            return False
        with self._lock:
            first = not self.holding.is_set()
            self.holding.set()
        return first

    def release(self) -> None:
        self._released.set()


def test_cartons_of_one_order_are_written_in_order_and_once_while_the_cart_is_slow_for_the_first(world):
    enable_tracking(world)
    world.overrides.update({**CONCURRENCY_ENV, "KAFKA_TOPIC_PARTITIONS": "1"})  # the other orders queue behind it
    world.shopify.add_order(950, [{"sku": "SKU-1", "quantity": 3}])
    order = infoplus_order(world, 950, {"SKU-1": 3})
    numbers_950 = [f"1ZCARTON95000000{n}" for n in (1, 2, 3)]
    carton1 = world.infoplus.add_shipment(order["orderNo"], numbers_950[0], "UPS", carton_no=1, number_of_cartons=3)
    other_ids = list(range(960, 966))
    others = [shopify_carton(world, order_id) for order_id in other_ids]
    slow = SlowWrite(world.shopify, numbers_950[0])
    started(world)

    try:
        push(world, carton1, *others)
        eventually(slow.holding.is_set, WAIT, interval=0.05, message="carton 1's write reached the cart")
        # Infoplus writes the order's two other cartons while the cart is still answering for the first.
        later = [world.infoplus.add_shipment(order["orderNo"], number, "UPS", carton_no=n, number_of_cartons=3)
                 for n, number in ((2, numbers_950[1]), (3, numbers_950[2]))]
        push(world, *later)  # same key as carton 1: handled after it
        eventually(lambda: shopify_fulfilled(world, other_ids), HELD_AT_MOST - 1.5, interval=0.05,
                   message="the other orders' shipments written while the cart is slow for carton 1")
        assert not world.shopify.fulfillments(950), "nothing of order 950 written before carton 1's held write"
    finally:
        slow.release()

    wait_all_committed(world)
    [fulfillment] = world.shopify.fulfillments(950)
    assert numbers(fulfillment) == numbers_950, "carton 1 first, then 2 and 3, each once"
    for order_id in other_ids:
        assert len(world.shopify.fulfillments(order_id)) == 1
