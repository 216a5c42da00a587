"""What the consumer engine keeps per partition it owns, made right across rebalances (deploys, scale-ups).

Read against kafka-python 3.0.12 (pinned in setup.cfg), which this relies on:
- Rebalance listeners run on kafka-python's IO thread (`KafkaConsumer` always starts one), where a blocking
  consumer call (`commit()`, `committed()` …) raises RuntimeError("Cannot block on net.run() from the IO thread
  itself") — not a KafkaError — and a listener that sleeps stops the heartbeats. The listener here is an
  `AsyncConsumerRebalanceListener`: the coordinator awaits it on its event loop, so while a revoke waits for the
  revoked partitions' events in flight to finish (`await` the loop's own `sleep`), heartbeats keep flowing. It
  commits nothing: the engine commits done offsets every half second in its own thread, so a rebalance repeats
  at most that much work, which the flows' look-before-write makes harmless (rebalances happen inside `poll()`,
  while the engine's loop thread waits there).
- Under the default (eager) protocol a partition that a rebalance gives back to the same member keeps its
  `TopicPartitionState` — position *and paused flag* (`SubscriptionState.assign_from_subscribed`). A pause the
  engine forgot would then never be resumed. So on assignment every owned partition is either paused with a due
  time known here, or resumed; what belongs to partitions now owned elsewhere is dropped.
- Lost partitions (`on_partitions_lost`: the member was evicted) are owned elsewhere already: never committed.
- Records kafka-python buffered for a partition that was then paused are "parked" in the fetcher
  (`_paused_partition_records`) and, in 3.0.12, not restored on resume: the partition would never be fetched
  again. Every pause here follows a seek back, so they are obsolete and dropped on resume.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from kafka import KafkaConsumer
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
from kafka.structs import TopicPartition

log = logging.getLogger("consumers.engine")


def check_kafka_internals(consumer: KafkaConsumer) -> None:
    """Fail at start, loudly, if the private parts of kafka-python this module reads are not there."""
    parked = getattr(getattr(consumer, "_fetcher", None), "_paused_partition_records", None)
    if not isinstance(parked, dict):
        raise RuntimeError("kafka-python's Fetcher._paused_partition_records is missing or changed: the engine's "
                           "resume workaround needs it (consumers/partitions.py); pin the kafka-python version "
                           "it was written for (setup.cfg)")
    if not callable(getattr(_event_loop(consumer), "sleep", None)):
        raise RuntimeError("kafka-python's coordinator event loop (_coordinator._net.sleep) is missing or changed: "
                           "the rebalance listener waits on it (consumers/partitions.py); pin the kafka-python "
                           "version it was written for (setup.cfg)")


def _event_loop(consumer: KafkaConsumer):
    """The coordinator's event loop, whose `sleep` an async rebalance listener awaits (heartbeats keep flowing)."""
    return getattr(getattr(consumer, "_coordinator", None), "_net", None)


class Partitions:
    """Offsets to commit, pauses (retry back-off or a parked record not due) and retry attempts, per partition."""

    def __init__(self, kind: str, clock: Callable[[], float],
                 on_owned: Callable[[set[TopicPartition]], None] = lambda owned: None,
                 on_released: Callable[[set[TopicPartition]], dict] = lambda released: {}) -> None:
        self._kind = kind
        self._clock = clock
        self._on_owned = on_owned  # e.g. the state store drops partitions now owned elsewhere
        # Revoked or lost: the engine drops their work, commits nothing more for them, and says where each must be
        # read again from (its lowest event not done) should the rebalance give it back.
        self._on_released = on_released
        self._read_again_from: dict[TopicPartition, int] = {}
        self.fetch_held: set[TopicPartition] = set()  # paused because enough is read ahead (flow control)
        self._consumer: KafkaConsumer | None = None
        self.next_offsets: dict[TopicPartition, int] = {}  # next offset to commit
        self.committed: dict[TopicPartition, int] = {}
        self.paused_until: dict[TopicPartition, float] = {}
        # Survive a rebalance that gives the partition back: the unexpected-error bound must not restart.
        self.attempts: dict[tuple[TopicPartition, int], int] = {}

    def attach(self, consumer: KafkaConsumer) -> None:
        check_kafka_internals(consumer)
        self._consumer = consumer

    # -- pauses ------------------------------------------------------------------------------------------------
    def pause(self, tp: TopicPartition, offset: int, delay: float) -> None:
        """Read `offset` of `tp` again in `delay` seconds; the loop keeps polling the other partitions."""
        self._consumer.seek(tp, offset)
        self._consumer.pause(tp)
        self.paused_until[tp] = self._clock() + delay

    def resume_due(self) -> None:
        now = self._clock()
        for tp, due in list(self.paused_until.items()):
            if now >= due:
                del self.paused_until[tp]
                if tp not in self.fetch_held:
                    self._resume(tp)

    def hold_fetching(self, tps: set[TopicPartition]) -> None:
        """Enough is read ahead: fetch nothing more of these until `release_fetching` (no seek: nothing read is
        dropped, and a record the fetcher buffered meanwhile is fetched again after the resume)."""
        new = tps - self.fetch_held
        if new:
            self._consumer.pause(*new)
            self.fetch_held |= new

    def release_fetching(self) -> None:
        held, self.fetch_held = self.fetch_held, set()
        for tp in held:
            if tp not in self.paused_until:
                self._resume(tp)

    def _resume(self, tp: TopicPartition) -> None:
        if tp not in self._consumer.assignment():
            return  # owned elsewhere now: nothing to resume (kafka-python would raise)
        self._consumer.resume(tp)
        parked = self._consumer._fetcher._paused_partition_records  # noqa: SLF001 (checked at attach)
        parked.pop(tp, None)

    # -- rebalances (kafka-python's IO thread: nothing here may block) ------------------------------------------
    def revoked(self, revoked: set[TopicPartition]) -> None:
        """The next owner starts at what was committed; nothing more is committed here for these."""
        for tp in revoked:
            self.next_offsets.pop(tp, None)
            self.committed.pop(tp, None)
        self.fetch_held -= revoked
        self._read_again_from.update(self._on_released(revoked))

    def lost(self, lost: set[TopicPartition]) -> None:
        """Evicted: another member owns these now; forget them entirely, commit nothing for them."""
        self.revoked(lost)
        for tp in lost:
            self.paused_until.pop(tp, None)
            self._read_again_from.pop(tp, None)  # owned elsewhere: its new owner starts at what was committed
        self.attempts = {key: n for key, n in self.attempts.items() if key[0] not in lost}
        self._on_owned(set(self._consumer.assignment()) - lost)

    def assigned(self, owned: set[TopicPartition]) -> None:
        """Every owned partition ends up paused with a due time known here, or held for flow control, or resumed."""
        self.paused_until = {tp: due for tp, due in self.paused_until.items() if tp in owned}
        self.fetch_held &= owned
        self._read_again(owned)
        self.attempts = {key: n for key, n in self.attempts.items() if key[0] in owned}
        self._on_owned(owned)
        paused = self._consumer.paused()
        for tp in owned:
            if tp in self.paused_until or tp in self.fetch_held:
                self._consumer.pause(tp)
            elif tp in paused:
                log.info("%s: %s[%d] came back paused with no due time here; resuming it",
                         self._kind, tp.topic, tp.partition)
                self._resume(tp)


    def _read_again(self, owned: set[TopicPartition]) -> None:
        """A partition given back keeps its fetch position (eager protocol), past events that were queued when it
        was revoked and dropped then: it is read again from its lowest event not done (those done since are
        dropped as duplicates by the engine's memory of recent event ids)."""
        for tp, offset in self._read_again_from.items():
            if tp in owned and tp not in self.paused_until:  # a paused one is sought back already
                self._consumer.seek(tp, offset)
        self._read_again_from = {}


class RebalanceListener(AsyncConsumerRebalanceListener):
    """Keeps `Partitions` right; cleanup runs whatever happens (a `finally`), and nothing blocks the event loop.

    `all_returned(partitions)` says whether the engine's events of those partitions in flight have returned: a
    revoke waits for that (bounded by `drain_seconds`) before the partitions are given up, so the next owner never
    works on an event this copy is still working on."""

    DRAIN_POLL_SECONDS = 0.05

    def __init__(self, partitions: Partitions, kind: str, consumer: KafkaConsumer,
                 all_returned: Callable[[set[TopicPartition]], bool] = lambda revoked: True,
                 drain_seconds: float = 120.0) -> None:
        self._partitions = partitions
        self._kind = kind
        self._consumer = consumer
        self._all_returned = all_returned
        self._drain_seconds = drain_seconds

    async def on_partitions_revoked(self, revoked) -> None:
        try:
            log.info("%s: revoked %s", self._kind, _names(revoked))
            await self._wait_for_work_in_flight(set(revoked))
        finally:
            self._partitions.revoked(set(revoked))

    async def _wait_for_work_in_flight(self, revoked: set[TopicPartition]) -> None:
        deadline = time.monotonic() + self._drain_seconds
        loop = _event_loop(self._consumer)
        while not self._all_returned(revoked):
            if time.monotonic() >= deadline:
                log.warning("%s: events of %s still in flight after %.0f s; giving the partitions up",
                            self._kind, _names(revoked), self._drain_seconds)
                return
            await loop.sleep(self.DRAIN_POLL_SECONDS)

    async def on_partitions_lost(self, lost) -> None:
        try:
            log.warning("%s: lost %s (evicted from the group); nothing is committed for them", self._kind,
                        _names(lost))
        finally:
            self._partitions.lost(set(lost))

    async def on_partitions_assigned(self, assigned) -> None:
        try:
            log.info("%s: assigned %s", self._kind, _names(assigned))
        finally:
            # Under eager rebalancing `assigned` is the whole assignment; read it from the consumer to be sure.
            self._partitions.assigned(set(self._consumer.assignment()))


def _names(partitions) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
