"""The consumer engine's observer: events by outcome, handling latency, lag per partition, and readiness.

Lag is measured by the consumer itself, at most every LAG_INTERVAL_SECONDS: one ListOffsets request for the end
offsets of its assigned partitions, compared with what it committed (what is done) — never per record.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from metrics.families import (CONNECTION_CIRCUIT_OPEN, CONNECTION_PARKED_EVENTS, CONSUMER_IN_FLIGHT,
                              CONSUMER_KEY_QUEUE_DEPTH, CONSUMER_LAG, CONSUMER_LAST_POLL, CONSUMER_PARTITIONS,
                              CONSUMER_QUEUED, CONSUMER_SLOT_WAIT, EVENTS, HANDLING_SECONDS)
from schemas.envelope import Envelope

log = logging.getLogger(__name__)

LAG_INTERVAL_SECONDS = 5.0
OFFSETS_TIMEOUT_MS = 2_000
# Readiness: a poll older than this means the loop is stuck (every outbound call has a timeout, so a healthy
# handler finishes a batch well within it).
STALE_POLL_SECONDS = 120.0


def dead_letter_code(reason: str, details: dict[str, Any]) -> str:
    """The dead letter's reason in one bounded word (the reason text itself names orders and SKUs)."""
    if "traceback" in details:
        return "unexpected_error"
    if reason.startswith("ops must act"):
        return "ops_must_act"
    if reason.startswith("undecodable"):
        return "undecodable"
    if "messages" in details:
        return "invalid_payload"
    if isinstance(details.get("status"), int):
        return f"http_{details['status']}"
    return "invalid_event"


def retry_code(reason: str, details: dict[str, Any]) -> str:
    if isinstance(details.get("status"), int):
        return f"http_{details['status']}"
    for word, code in (("Timeout", "timeout"), ("ConnectionError", "connection_error"),
                       ("could not write to", "kafka"), ("unexpected", "unexpected_error")):
        if word in reason:
            return code
    return "other"


def _connection(connection_id: int | None) -> str:
    return "-" if connection_id is None else str(connection_id)


class ConsumerMetrics:
    """Implements consumers.observer.EngineObserver; `readiness()` backs the consumer's `/readyz`."""

    def __init__(self, group: str, *, no_partitions_grace_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.group = group
        self._grace = no_partitions_grace_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._last_poll: float | None = None
        self._unassigned_since: float | None = self._started
        self._next_lag_at = 0.0
        self._lag_series: set[tuple[str, str]] = set()
        self._connection_series: set[tuple[str, str]] = set()

    # -- EngineObserver -------------------------------------------------------------------------------------
    def handled(self, kind: str, connection_id: int | None, outcome: str, code: str = "") -> None:
        EVENTS.labels(kind, _connection(connection_id), outcome, code).inc()

    def dead_lettered(self, kind: str, envelope: Envelope | None, reason: str, details: dict[str, Any]) -> None:
        connection = envelope.connection_id if envelope else None
        EVENTS.labels(kind, _connection(connection), "dead_lettered", dead_letter_code(reason, details)).inc()

    def retried(self, kind: str, reason: str, details: dict[str, Any]) -> None:
        EVENTS.labels(kind, "-", "retried", retry_code(reason, details)).inc()

    def handling_took(self, kind: str, seconds: float) -> None:
        HANDLING_SECONDS.labels(kind).observe(seconds)

    def in_flight(self, kind: str, running: int, queued: int, deepest_key_queue: int) -> None:
        CONSUMER_IN_FLIGHT.labels(kind).set(running)
        CONSUMER_QUEUED.labels(kind).set(queued)
        CONSUMER_KEY_QUEUE_DEPTH.labels(kind).set(deepest_key_queue)

    def waited_for_slot(self, kind: str, seconds: float) -> None:
        CONSUMER_SLOT_WAIT.labels(kind).observe(seconds)

    def connections(self, kind: str, health: list) -> None:
        """Circuit and parked events per connection; a connection healthy with nothing waiting shows 0 (and its
        series stays, so an alert that fired can resolve)."""
        series = set()
        for row in health:
            labels = (row.flow or kind, str(row.connection_id))
            CONNECTION_CIRCUIT_OPEN.labels(*labels).set(1 if row.failing else 0)
            CONNECTION_PARKED_EVENTS.labels(*labels).set(row.waiting)
            series.add(labels)
        for labels in self._connection_series - series:  # e.g. its parked events' partition moved to another copy
            CONNECTION_CIRCUIT_OPEN.labels(*labels).set(0)
            CONNECTION_PARKED_EVENTS.labels(*labels).set(0)
        self._connection_series |= series

    def polled(self, consumer: KafkaConsumer) -> None:
        now = self._clock()
        assigned = consumer.assignment() or set()
        with self._lock:
            self._last_poll = now
            if assigned:
                self._unassigned_since = None
            elif self._unassigned_since is None:
                self._unassigned_since = now
        CONSUMER_LAST_POLL.labels(self.group).set(time.time())
        CONSUMER_PARTITIONS.labels(self.group).set(len(assigned))
        if now >= self._next_lag_at:
            self._next_lag_at = now + LAG_INTERVAL_SECONDS
            self._measure_lag(consumer, sorted(assigned))

    # -- lag ------------------------------------------------------------------------------------------------
    def _measure_lag(self, consumer: KafkaConsumer, assigned: list[TopicPartition]) -> None:
        lags: dict[tuple[str, str], int] = {}
        try:
            ends = consumer.end_offsets(assigned, timeout_ms=OFFSETS_TIMEOUT_MS) if assigned else {}
            for tp in assigned:
                # Against what is committed (done), not the fetch position: a partition in back-off was fetched
                # to its end and sought back, so right after a poll its position says "nothing waiting".
                done_up_to = consumer.committed(tp, timeout_ms=OFFSETS_TIMEOUT_MS)
                if done_up_to is None:
                    done_up_to = consumer.position(tp, timeout_ms=OFFSETS_TIMEOUT_MS)
                if done_up_to is not None and ends.get(tp) is not None:
                    lags[(tp.topic, str(tp.partition))] = max(0, ends[tp] - done_up_to)
        except Exception as error:  # a metric must never stop the loop; the last values stay until next time
            log.debug("lag not measured: %r", error)
            return
        for topic, partition in self._lag_series - set(lags):  # partitions this copy no longer holds
            CONSUMER_LAG.remove(self.group, topic, partition)
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(self.group, topic, partition).set(lag)
        self._lag_series = set(lags)

    # -- readiness ------------------------------------------------------------------------------------------
    def readiness(self) -> tuple[bool, str]:
        """Not ready while the loop has not polled for STALE_POLL_SECONDS, or has held no partition for longer
        than a rebalance takes (a copy beyond the partition count is reported not ready: it does no work)."""
        now = self._clock()
        with self._lock:
            last_poll, unassigned_since = self._last_poll, self._unassigned_since
        if last_poll is None:
            waited = now - self._started
            if waited > self._grace:
                return False, f"no poll yet after {waited:.0f} s (is Kafka reachable?)"
            return True, "starting"
        if now - last_poll > STALE_POLL_SECONDS:
            return False, f"last poll {now - last_poll:.0f} s ago"
        if unassigned_since is not None and now - unassigned_since > self._grace:
            return False, (f"no partitions assigned for {now - unassigned_since:.0f} s "
                           f"(more copies than partitions, or a rebalance that does not end)")
        return True, "ready"
