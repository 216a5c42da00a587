"""A durable, partitioned key-value store for one consumer kind: the Kafka Streams changelog idea, written once.

The store is a compacted topic, `<input topic>.state`, with the input's partition count; every value is written to
the *same partition number* as the input record it was made from, so partition N of the state holds exactly the
keys of partition N of the input. A process therefore needs only the state of the partitions it owns:

- when a partition is assigned, its state is read back (restored) before any of its events are handled — in the
  engine's own thread, after the poll that brought the assignment (a restore blocks; a rebalance listener must not);
- a partition that stays with this process through a rebalance keeps its state (only this process wrote it); one
  revoked for good or lost is dropped;
- every write waits for the broker's acknowledgement (acks=all) before the handler goes on.

The topic is `cleanup.policy=compact,delete` with a retention (`STATE_RETENTION_DAYS`, 60): a key not written for
that long disappears, so a restore stays quick however many years of orders pass. Each partition records when its
state began (`BEGAN_KEY`, rewritten at each restore so retention never removes it): `trusted_since()` is the moment
from which the store can vouch for "never seen means new" — the later of that start and now minus the retention.
A consumer asks Infoplus first about anything older (an upgrade from a version without the store, an expired entry,
a state topic deleted by ops).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from config.settings import Settings
from events import topics
from events.publisher import BrokerUnavailable, Publisher
from events.reading import ReadStalled, records_below
from outbound.errors import Retryable

log = logging.getLogger("consumers.state")

BEGAN_KEY = "__state_began__"
RESTORE_IDLE_SECONDS = 30.0
DAY = 86_400.0


class StateStore:
    """The state of the input partitions this process owns; `bind()` names the one being handled now."""

    def __init__(self, settings: Settings, input_topic: str, publisher: Publisher, *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self.topic = topics.state(input_topic)  # unprefixed, like every topic name in the code
        self._input_topic = input_topic
        self._publisher = publisher
        self._clock = wall_clock
        self._partitions: dict[int, dict[str, Any]] = {}  # restored partitions: key -> value
        self._began: dict[int, float] = {}
        self._bound = threading.local()  # each worker thread handles its own event: partition and values
        self._state_partitions = 0  # known after ensure_topic()
        self.restored_keys = 0  # for logs and the benchmark

    # -- engine-facing -------------------------------------------------------------------------------------
    def ensure_topic(self) -> None:
        """Create the state topic like its input (same partition count), or grow it to the input's count."""
        self._state_partitions = topics.ensure_state_topic(self._settings, self._input_topic)

    def keep_only(self, owned: set[int]) -> None:
        """After a rebalance: drop the partitions now owned elsewhere (rebalance listener: nothing blocks)."""
        for partition in [p for p in self._partitions if p not in owned]:
            del self._partitions[partition]
            self._began.pop(partition, None)

    def restore_missing(self, owned: set[int]) -> None:
        """Read back the state of every owned partition not restored yet (after a rebalance)."""
        for partition in sorted(owned - set(self._partitions)):
            self._restore(partition)

    def bind(self, partition: int) -> None:
        """The input partition whose event this thread handles next; restores its state first if it is not here
        yet. The values are bound, not looked up again: a rebalance that drops the partition meanwhile (its
        events in flight finish first) leaves this thread's event working on what it began with."""
        if partition not in self._partitions:
            self._restore(partition)
        self._bound.partition, self._bound.values = partition, self._partitions[partition]

    # -- handler-facing ------------------------------------------------------------------------------------
    def get(self, key: str) -> Any | None:
        return self._bound.values.get(key)

    def put(self, key: str, value: Any) -> None:
        """Write through: the broker has it (acks=all) before this returns; a broker outage is Retryable."""
        self._write(self._bound.partition, key, value)
        self._bound.values[key] = value

    def trusted_since(self) -> float:
        """Unix time from which a key absent from this partition's state was never written: anything older may
        have been handled before the store (or its entry may have expired), so it must be looked up. The start
        is moved on by STATE_CLOCK_SKEW_SECONDS: carts stamp creation times with their own clocks."""
        retention = self._settings.state_retention_days * DAY
        began = self._began.get(self._bound.partition, self._clock())
        return max(began + self._settings.state_clock_skew_seconds, self._clock() - retention)

    # -- restore -------------------------------------------------------------------------------------------
    def _restore(self, partition: int) -> None:
        if partition >= self._state_partitions:  # the input gained partitions while this process ran
            self.ensure_topic()
        started = time.monotonic()
        values = self._read_partition(partition)
        began = values.pop(BEGAN_KEY, None)
        began_at = float(began["at"]) if isinstance(began, dict) and "at" in began else self._clock()
        self._write(partition, BEGAN_KEY, {"at": began_at})  # rewritten, so retention never expires it
        self._partitions[partition], self._began[partition] = values, began_at
        self.restored_keys += len(values)
        log.info("state of %s[%d] restored: %d keys in %.2f s (began %s)", self._settings.topic(self.topic),
                 partition, len(values), time.monotonic() - started,
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began_at)))

    def _read_partition(self, partition: int) -> dict[str, Any]:
        tp = TopicPartition(self._settings.topic(self.topic), partition)
        try:
            consumer = KafkaConsumer(**self._settings.kafka_client_config(), group_id=None,
                                     enable_auto_commit=False, allow_auto_create_topics=False,
                                     max_partition_fetch_bytes=self._settings.max_event_bytes, metrics_enabled=False)
        except KafkaError as error:
            raise Retryable(f"cannot restore {tp.topic}[{partition}]: {error}") from error
        try:
            if partition not in (consumer.partitions_for_topic(tp.topic) or set()):
                log.warning("%s has no partition %d (deleted, or never made): starting it empty", tp.topic, partition)
                return {}
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            values: dict[str, Any] = {}
            for record in records_below(consumer, consumer.end_offsets([tp]), RESTORE_IDLE_SECONDS):
                key = record.key.decode()
                if record.value is None:
                    values.pop(key, None)  # a tombstone
                else:
                    values[key] = json.loads(record.value)
            return values
        except (KafkaError, ReadStalled) as error:
            raise Retryable(f"cannot restore {tp.topic}[{partition}]: {error}") from error
        finally:
            consumer.close(autocommit=False)

    def _write(self, partition: int, key: str, value: Any) -> None:
        try:
            self._publisher.publish_record(self.topic, key.encode(), value, partition=partition)
        except BrokerUnavailable as error:
            raise Retryable(f"could not write state to {self.topic}: {error}") from error
