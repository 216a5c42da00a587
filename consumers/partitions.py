"""What the consumer engine keeps per partition it owns, made right across rebalances (deploys, scale-ups).

Read against kafka-python 3.0.12 (pinned in setup.cfg), which this relies on:
- Rebalance listeners run on kafka-python's IO thread (`KafkaConsumer` always starts one), where a blocking
  consumer call (`commit()`, `committed()` …) raises RuntimeError("Cannot block on net.run() from the IO thread
  itself") — not a KafkaError. So nothing here blocks: the engine commits after every batch, in its own thread,
  which leaves nothing handled but uncommitted when a rebalance starts (rebalances happen inside `poll()`).
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
from typing import Callable

from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.structs import TopicPartition

log = logging.getLogger("consumers.engine")


def check_kafka_internals(consumer: KafkaConsumer) -> None:
    """Fail at start, loudly, if the private parts of kafka-python this module reads are not there."""
    parked = getattr(getattr(consumer, "_fetcher", None), "_paused_partition_records", None)
    if not isinstance(parked, dict):
        raise RuntimeError("kafka-python's Fetcher._paused_partition_records is missing or changed: the engine's "
                           "resume workaround needs it (consumers/partitions.py); pin the kafka-python version "
                           "it was written for (setup.cfg)")


class Partitions:
    """Offsets to commit, pauses (retry back-off or a parked record not due) and retry attempts, per partition."""

    def __init__(self, kind: str, clock: Callable[[], float],
                 on_owned: Callable[[set[TopicPartition]], None] = lambda owned: None) -> None:
        self._kind = kind
        self._clock = clock
        self._on_owned = on_owned  # e.g. the state store drops partitions now owned elsewhere
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
                self._resume(tp)

    def _resume(self, tp: TopicPartition) -> None:
        if tp not in self._consumer.assignment():
            return  # owned elsewhere now: nothing to resume (kafka-python would raise)
        self._consumer.resume(tp)
        parked = self._consumer._fetcher._paused_partition_records  # noqa: SLF001 (checked at attach)
        parked.pop(tp, None)

    # -- rebalances (kafka-python's IO thread: nothing here may block) ------------------------------------------
    def revoked(self, revoked: set[TopicPartition]) -> None:
        """Whatever was handled is committed already (after its batch); the next owner starts there."""
        for tp in revoked:
            self.next_offsets.pop(tp, None)
            self.committed.pop(tp, None)

    def lost(self, lost: set[TopicPartition]) -> None:
        """Evicted: another member owns these now; forget them entirely, commit nothing for them."""
        self.revoked(lost)
        for tp in lost:
            self.paused_until.pop(tp, None)
        self.attempts = {key: n for key, n in self.attempts.items() if key[0] not in lost}
        self._on_owned(set(self._consumer.assignment()) - lost)

    def assigned(self, owned: set[TopicPartition]) -> None:
        """Every owned partition ends up paused with a due time known here, or resumed."""
        self.paused_until = {tp: due for tp, due in self.paused_until.items() if tp in owned}
        self.attempts = {key: n for key, n in self.attempts.items() if key[0] in owned}
        self._on_owned(owned)
        paused = self._consumer.paused()
        for tp in owned:
            if tp in self.paused_until:
                self._consumer.pause(tp)
            elif tp in paused:
                log.info("%s: %s[%d] came back paused with no due time here; resuming it",
                         self._kind, tp.topic, tp.partition)
                self._resume(tp)


class RebalanceListener(ConsumerRebalanceListener):
    """Keeps `Partitions` right; cleanup runs whatever happens (a `finally`), and nothing blocks."""

    def __init__(self, partitions: Partitions, kind: str, consumer: KafkaConsumer) -> None:
        self._partitions = partitions
        self._kind = kind
        self._consumer = consumer

    def on_partitions_revoked(self, revoked) -> None:
        try:
            log.info("%s: revoked %s", self._kind, _names(revoked))
        finally:
            self._partitions.revoked(set(revoked))

    def on_partitions_lost(self, lost) -> None:
        try:
            log.warning("%s: lost %s (evicted from the group); nothing is committed for them", self._kind,
                        _names(lost))
        finally:
            self._partitions.lost(set(lost))

    def on_partitions_assigned(self, assigned) -> None:
        try:
            log.info("%s: assigned %s", self._kind, _names(assigned))
        finally:
            # Under eager rebalancing `assigned` is the whole assignment; read it from the consumer to be sure.
            self._partitions.assigned(set(self._consumer.assignment()))


def _names(partitions) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
