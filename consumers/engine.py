"""The consumer engine, written once; each consumer supplies only "what to do with one event".

This module is the loop thread: it reads, hands events to worker threads, applies what they return, commits and
follows rebalances. What a worker does with one event is consumers/event_handling.py; the bookkeeping of what runs
when and what may be committed is consumers/inflight.py.

Guarantees:
- Offsets are committed only past events whose effect happened, or that were dead-lettered / skipped
  (recorded on `<topic>.dlq` / `<topic>.skipped` and acknowledged by the broker) — never past a pending one.
- A Retryable failure (Infoplus or Kafka: 429, 5xx, timeout) seeks the partition back to its lowest event not
  done and *pauses* it until the back-off (or the server's Retry-After) is over, while the loop keeps polling: the
  group membership stays alive, other partitions keep flowing, and one entity's events stay in order.
- A Permanent failure or an InvalidEvent is dead-lettered with a structured reason, then committed.
- A cart failure (a Retryable raised inside `Circuits.calling`, consumers/circuits.py) belongs to one connection:
  the event (or that connection's part of a fanned-out event) is *parked* on `<topic>.retry` with a due time and
  the connection it waits for, and the partition moves on. While that connection's circuit is open its events are
  parked without calling the cart; after CONNECTION_OUTAGE_DEAD_LETTER_HOURS of failing they are dead-lettered.
- NotYet (what the event needs is still to come) parks it on `<topic>.retry` until it is due, when the consumer
  has a DeferPolicy: the partition's other events keep flowing (consumers/deferral.py).
- `<topic>.retry` is read straight through: records not due yet are held in memory (consumers/parking.py), so a
  far-future record never holds up a due one behind it.
- Any other exception (a bug) is retried like a Retryable, then after `unexpected_error_attempts` dead-lettered
  with its traceback: one poison event must not hold up every later event of its partition.
- Many events are in flight at once (CONSUMER_CONCURRENCY worker threads: the work is waiting on HTTP), one at a
  time per Kafka key and in offset order, at most a connection's cap of one connection's events
  (consumers/inflight.py). A partition's commit point is its lowest offset not done yet.
- A rebalance waits (heartbeats flowing) for the revoked partitions' events in flight to finish; nothing is
  committed for them afterwards. stop() (SIGTERM) stops handing out work, lets the events in flight finish
  (every outbound call has a timeout), commits, and closes.
- Optional, for "latest value wins" consumers: `look_ahead` sees each partition's polled batch (the events whose
  key has nothing earlier still queued or running) on the loop thread, and names the events a later event of the
  same batch makes redundant — those are committed without calling the handler, safe because the later event is
  further along the same partition and the commit point never passes it before it is handled (or dead-lettered).
  `work_ahead` then does work for that batch on a worker before its events run (e.g. write many values in one
  call), holding all their keys; the handler still decides each event.
"""
from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition
from marshmallow import ValidationError

from config.settings import Settings
from consumers.circuits import Circuits, ConnectionHealth, health_report
from consumers.deferral import DeferPolicy, decode_deferred
from consumers.event_handling import EventHandling, Handler
from consumers.health import HealthBroadcast
from consumers.inflight import InFlight, Work
from consumers.observer import EngineObserver
from consumers.parking import Held, ParkingLot
from consumers.partitions import Partitions, RebalanceListener
from consumers.state import StateStore
from events import kafka_errors, topics
from events.publisher import Publisher
from outbound.errors import Retryable
from schemas.envelope import Envelope, EnvelopeSchema, decode_envelope

log = logging.getLogger("consumers.engine")

LookAhead = Callable[[list[Envelope]], set[str]]  # one partition's batch -> event ids made redundant
WorkAhead = Callable[[list[Envelope]], None]  # one partition's batch -> work done ahead (e.g. a bulk write)
ConnectionOf = Callable[[Envelope], "int | None"]  # the connection an event will call, when known without a call
POLL_TIMEOUT_MS = 500  # idle: nothing in flight
COMPLETION_WAIT_SECONDS = 0.05  # busy: how long the loop waits for a finished event before polling again
COMMIT_INTERVAL_SECONDS = 0.5  # done offsets are committed at most this often (and at stop)
HEALTH_INTERVAL_SECONDS = 1.0
QUEUED_PER_SLOT = 16  # records read ahead per worker; past it the main partitions' fetching pauses
BROKER_RETRY_SECONDS = 1.0
FULL_LOT_WAIT_SECONDS = 5.0  # a retry partition with too many held records is read again after this


_SCHEMA = EnvelopeSchema()


class ConsumerEngine:
    def __init__(self, *, kind: str, topic: str, handler: Handler, settings: Settings,
                 publisher: Publisher | None = None, clock: Callable[[], float] = time.monotonic,
                 look_ahead: LookAhead | None = None, work_ahead: WorkAhead | None = None,
                 kafka_options: Mapping[str, Any] | None = None,
                 defer: DeferPolicy | None = None, wall_clock: Callable[[], float] = time.time,
                 state: StateStore | None = None, circuits: Circuits | None = None,
                 connection_of: ConnectionOf | None = None,
                 connection_cap: Callable[[int], "int | None"] | None = None) -> None:
        self.kind = kind
        self.topic = topic
        self._state = state  # restored per partition before its first event; the handler reads and writes it
        self._defer_policy = defer  # None: a NotYet is dead-lettered at once
        self.circuits = circuits  # None: every Retryable pauses the partition (no cart of its own to wait for)
        self._lot = ParkingLot()  # records of `<topic>.retry` read and waiting for their due time
        self._health: HealthBroadcast | None = None  # for ops (consumers/health.py), once the consumer runs
        self._wall_clock = wall_clock
        self._look_ahead = look_ahead  # pure, on the loop thread
        self._work_ahead = work_ahead  # on a worker, holding the batch's keys
        self._kafka_options = dict(kafka_options or {})  # e.g. fetch_min_bytes / fetch_max_wait_ms
        self._settings = settings
        self._publisher = publisher or Publisher(settings)
        self._clock = clock
        self._stopping = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._partitions = Partitions(kind, clock, on_owned=self._keep_state_of, on_released=self._release)
        # Work in flight (consumers/inflight.py) is the loop thread's; workers only run tasks and hand back results.
        self._connection_of = connection_of or (lambda envelope: envelope.connection_id)
        self._connection_cap = connection_cap or (circuits.cap_of if circuits is not None else lambda cid: None)
        self._inflight = InFlight(settings.consumer_concurrency, self._cap_of)
        self._workers = ThreadPoolExecutor(settings.consumer_concurrency, thread_name_prefix=f"{kind}-worker")
        self._finished: queue.SimpleQueue[tuple[Work, Any]] = queue.SimpleQueue()
        self._running = _RunningCount()  # what the rebalance listener waits on (it runs on Kafka's IO thread)
        self._next_commit_at = self._next_health_at = 0.0
        # What a worker does with one event (consumers/event_handling.py); this module decides what runs when.
        self._events = EventHandling(kind=kind, topic=topic, handler=handler, settings=settings,
                                     publisher=self._publisher, defer=defer, circuits=circuits, wall_clock=wall_clock,
                                     bind_state=self._bind_state, attempts_of=self._attempts_of)

    @property
    def observer(self) -> EngineObserver:
        """Metrics and readiness (consumers.runner installs them)."""
        return self._events.observer

    @observer.setter
    def observer(self, observer: EngineObserver) -> None:
        self._events.observer = observer

    @property
    def counts(self) -> dict[str, int]:
        return self._events.counts

    def _attempts_of(self, tp: TopicPartition, offset: int) -> int:
        return self._partitions.attempts.get((tp, offset), 0)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish the events in flight, commit and exit (safe from a signal handler)."""
        self._stopping.set()

    def run(self) -> None:
        self._consumer = self._when_kafka_answers(self._start_consumer)
        if self._consumer is None:  # stopped before Kafka ever answered
            return
        self._partitions.attach(self._consumer)
        listener = RebalanceListener(self._partitions, self.kind, self._consumer, self._drained,
                                     self._settings.consumer_batch_seconds)
        self._consumer.subscribe([self._settings.topic(name) for name in self._input_topics()], listener=listener)
        log.info("%s consumer started: group=%s topic=%s", self.kind, self._group_id(), self._settings.topic(self.topic))
        try:
            while not self._stopping.is_set():
                self._poll_once()
        finally:
            self._close()

    def _when_kafka_answers(self, start: Callable[[], KafkaConsumer]) -> KafkaConsumer | None:
        """A consumer started while the broker is down or still starting waits for it instead of exiting."""
        while not self._stopping.is_set():
            try:
                return start()
            except KafkaError as error:
                kafka_errors.warn(log, f"{self.kind}: Kafka not ready", error)  # the cause, once a minute
                self._stopping.wait(BROKER_RETRY_SECONDS)
        return None

    def _input_topics(self) -> list[str]:
        waits = self._defer_policy is not None or self.circuits is not None
        return [self.topic, topics.retry(self.topic)] if waits else [self.topic]

    def _is_retry(self, tp: TopicPartition) -> bool:
        return tp.topic == self._settings.topic(topics.retry(self.topic))

    def _start_consumer(self) -> KafkaConsumer:
        topics.ensure_topics(self._settings,
                             [*self._input_topics(), topics.dead_letters(self.topic), topics.skipped(self.topic)])
        if self._state is not None:
            self._state.ensure_topic()
        if self.circuits is not None:
            self._health = HealthBroadcast(self._settings, self._publisher, self._client_id())
        return self._create_consumer()

    def _client_id(self) -> str:
        return f"cartbridge-{self.kind}-{socket.gethostname()}-{os.getpid()}"  # names the member for ops

    def _bind_state(self, tp: TopicPartition) -> None:
        """The state the handler reads and writes is its input partition's (restored already, after the poll). A
        retry record has its input partition's number: it was written with the same key to a topic with as many
        partitions, and the range assignor gives a member the same partition numbers of both topics."""
        if self._state is not None and (tp.topic == self._settings.topic(self.topic) or self._is_retry(tp)):
            self._state.bind(tp.partition)

    def _keep_state_of(self, owned: set[TopicPartition]) -> None:
        self._lot.keep_only(owned)
        if self._state is not None:
            main = self._settings.topic(self.topic)
            self._state.keep_only({tp.partition for tp in owned if tp.topic == main})

    def _create_consumer(self) -> KafkaConsumer:
        session_ms = self._settings.consumer_session_timeout_ms
        return KafkaConsumer(
            **self._settings.kafka_client_config(),
            group_id=self._group_id(),
            client_id=self._client_id(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a new group must not skip events already accepted
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(100, session_ms // 3),
            max_poll_records=self._settings.consumer_max_poll_records,
            max_poll_interval_ms=self._settings.consumer_max_poll_interval_ms,
            metrics_enabled=False,  # nothing reads kafka-python's metrics
            **self._kafka_options,
        )

    def _group_id(self) -> str:
        return self._settings.topic(f"cartbridge.{self.kind}")

    def _close(self) -> None:
        try:
            self._finish_running()
            self._commit(force=True)
        finally:
            self._consumer.close(autocommit=False)
            self._workers.shutdown(wait=False)
            self._publisher.close()
            log.info("%s consumer stopped: %s", self.kind, " ".join(f"{k}={v}" for k, v in self.counts.items()))

    # -- the loop (one thread: reads, hands out work, applies what the workers return, commits) -----------------
    def _poll_once(self) -> None:
        busy = bool(self._inflight.running)
        self._apply_finished(wait=COMPLETION_WAIT_SECONDS if busy else 0.0)
        self._partitions.resume_due()
        self._flow_control()
        try:
            batch = self._consumer.poll(timeout_ms=0 if busy else POLL_TIMEOUT_MS)
        except KafkaError as error:  # broker unreachable: nothing was handed out, so nothing is lost; wait, retry
            log.warning("%s: poll failed (%s); retrying", self.kind, error)
            self._stopping.wait(BROKER_RETRY_SECONDS)
            return
        self.observer.polled(self._consumer)
        self._apply_finished(wait=0.0)  # a rebalance inside poll() waited for these: settle them before re-reads
        if not self._restore_state(batch):
            return
        for tp, records in batch.items():
            if self._is_retry(tp):
                self._read_parked(tp, records)
            else:
                self._read_events(tp, records)
        self._queue_due_parked()
        self._start_work()
        self._commit()
        self._report()

    def _restore_state(self, batch: dict) -> bool:
        """A new assignment's state is read back before any of its events; if Kafka cannot serve it now, the
        batch is set back (its records are read again) and the loop waits."""
        if self._state is None:
            return True
        main = self._settings.topic(self.topic)
        try:
            self._state.restore_missing({tp.partition for tp in self._consumer.assignment() if tp.topic == main})
            return True
        except Retryable as error:
            log.warning("%s: state not restored (%s); retrying", self.kind, error.reason)
            for tp, records in batch.items():
                self._consumer.seek(tp, records[0].offset)
            self._stopping.wait(BROKER_RETRY_SECONDS)
            return False

    def _read_events(self, tp: TopicPartition, records: list) -> None:
        """Decode each record once and queue it behind its key; a record read again (after a seek back) that is
        running or done already is not queued twice."""
        decoded = [(record, _decoded(record)) for record in records if self._inflight.read(tp, record.offset)]
        redundant = self._look_ahead_at(tp, decoded)
        for record, envelope in decoded:
            if isinstance(envelope, Envelope):
                task = _bound(self._events.process, record, envelope, None, redundant)
                connection_id = self._connection_of_event(envelope)
            else:  # undecodable: its dead letter is written by a worker, in its key's turn
                task = _bound(self._events.dead_letter, record, None, f"undecodable event: {envelope}", {})
                connection_id = None
            self._inflight.add(Work(tp, record.offset, _key(tp, record), connection_id, task,
                                    then=self._event_finished))

    def _connection_of_event(self, envelope: Envelope) -> int | None:
        try:
            return self._connection_of(envelope)
        except Exception:  # only a hint for the per-connection cap
            log.exception("%s: connection_of() failed on event_id=%s", self.kind, envelope.event_id)
            return envelope.connection_id

    def _cap_of(self, connection_id: int) -> int:
        try:
            return self._connection_cap(connection_id) or self._settings.connection_max_in_flight
        except Exception:
            return self._settings.connection_max_in_flight

    def _look_ahead_at(self, tp: TopicPartition, decoded: list) -> set[str]:
        """The look-ahead sees the batch's events whose key has nothing earlier queued or running, and names those
        a later one makes redundant; the work-ahead (e.g. a bulk write of the newest levels) is queued before them,
        holding all their keys, so it never races an older event of the same key and they wait for it."""
        fresh = [(record, envelope) for record, envelope in decoded
                 if isinstance(envelope, Envelope) and self._inflight.idle(_key(tp, record))]
        if not fresh or self._look_ahead is None:
            return set()
        envelopes = [envelope for _, envelope in fresh]
        try:
            redundant = self._look_ahead(envelopes)
        except Exception:  # only an optimisation: on a bug, handle every event
            log.exception("%s: look_ahead() failed; handling every event of the batch", self.kind)
            return set()
        if self._work_ahead is not None and len(fresh) > 1:
            keys = tuple(dict.fromkeys(_key(tp, record) for record, _ in fresh))
            self._inflight.add(Work(tp, fresh[0][0].offset, keys[0], None, _bound(self._ahead, tp, envelopes),
                                    tracked=False, also_keys=keys[1:]))
        return redundant

    def _ahead(self, tp: TopicPartition, envelopes: list[Envelope]) -> None:
        self._bind_state(tp)  # the work-ahead may read and write this partition's state
        try:
            self._work_ahead(envelopes)
        except Exception:  # only an optimisation: each event is still handled on its own
            log.exception("%s: work_ahead() failed; every event of the batch is handled on its own", self.kind)

    # -- workers ---------------------------------------------------------------------------------------------
    def _start_work(self) -> None:
        now = time.monotonic()
        for work in self._inflight.next_to_run():
            self.observer.waited_for_slot(self.kind, now - work.added_at)
            self._running.add(work.tp)
            self._workers.submit(self._run, work)

    def _run(self, work: Work) -> None:
        """On a worker thread: the task's result, or the Retryable it raised, goes back to the loop thread."""
        try:
            result: Any = work.task()
        except Retryable as error:
            result = error
        except BaseException as error:  # tasks catch everything else; never lose a result
            log.exception("%s: work on %s[%d]@%d failed", self.kind, work.tp.topic, work.tp.partition, work.offset)
            result = Retryable(f"unexpected {error.__class__.__name__}: {error}")
        finally:
            self._running.remove(work.tp)
        self._finished.put((work, result))

    def _apply_finished(self, wait: float) -> None:
        """Apply every result the workers handed back; wait up to `wait` seconds for the first one."""
        try:
            work, result = self._finished.get(timeout=wait) if wait > 0 else self._finished.get_nowait()
        except queue.Empty:
            return
        while True:
            self._apply(work, result)
            try:
                work, result = self._finished.get_nowait()
            except queue.Empty:
                return

    def _apply(self, work: Work, result: Any) -> None:
        if work.then is None:  # done ahead for a batch: nothing to commit for it
            self._inflight.finished(work)
        else:
            work.then(work, result)

    def _event_finished(self, work: Work, result: Any) -> None:
        if isinstance(result, Retryable):
            self._inflight.finished(work, done=False)
            self._retry_later(work.tp, work.offset, result)
            return
        self._inflight.finished(work)
        self._partitions.attempts.pop((work.tp, work.offset), None)

    def _finish_running(self) -> None:
        """At stop: wait for the work in flight to return, applying what it returns; bounded."""
        deadline = time.monotonic() + self._settings.consumer_batch_seconds
        while self._inflight.running and time.monotonic() < deadline:
            self._apply_finished(wait=COMPLETION_WAIT_SECONDS)
        if self._inflight.running:
            log.warning("%s: %d events still in flight at stop; they are read again by the next owner",
                        self.kind, len(self._inflight.running))

    def _flow_control(self) -> None:
        """Bound what is read ahead: past QUEUED_PER_SLOT records per worker, the main partitions stop fetching
        (the loop still polls: the group membership, rebalances and parked records go on)."""
        limit = QUEUED_PER_SLOT * self._settings.consumer_concurrency
        queued = self._inflight.queued()
        main = self._settings.topic(self.topic)
        if queued >= limit:
            self._partitions.hold_fetching({tp for tp in self._consumer.assignment() if tp.topic == main})
        elif queued <= limit // 2:
            self._partitions.release_fetching()

    # -- rebalances ------------------------------------------------------------------------------------------
    def _drained(self, revoked: set[TopicPartition]) -> bool:
        """For the rebalance listener (Kafka's IO thread): True once no event of `revoked` is running."""
        return not self._running.any_of(revoked)

    def _release(self, released: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Revoked or lost (the listener, while the loop thread waits in poll()): nothing of them is committed
        any more; their queued events are dropped, to be read again by whoever owns them next. Returns where each
        must be read again from, should it come back to this copy."""
        read_again_from = {tp: offset for tp in released
                           if (offset := self._inflight.commit_offset(tp)) is not None}
        self._inflight.forget(released)
        return read_again_from

    # -- retries ---------------------------------------------------------------------------------------------
    def _retry_later(self, tp: TopicPartition, offset: int, error: Retryable) -> None:
        """A shared failure (Infoplus, Kafka): the partition is read again from its lowest event not running and
        not done, once the back-off is over; its other events in flight finish meanwhile."""
        book = self._partitions.attempts
        attempts = book[(tp, offset)] = book.get((tp, offset), 0) + 1
        delay = error.retry_after if error.retry_after is not None else self._backoff(attempts)
        self._events.count("retried")
        self.observer.retried(self.kind, error.reason, error.details())
        log.warning("%s: retrying %s[%d]@%d in %.1fs (attempt %d): %s",
                    self.kind, tp.topic, tp.partition, offset, delay, attempts, error.reason)
        read_again_from = self._inflight.set_back(tp)
        if read_again_from is not None and tp in self._consumer.assignment():
            self._partitions.pause(tp, read_again_from, delay)

    def _backoff(self, attempts: int) -> float:
        base = self._settings.retry_backoff_initial_seconds * 2 ** (attempts - 1)
        return min(self._settings.retry_backoff_max_seconds, base) * random.uniform(0.8, 1.2)

    # -- parked events (`<topic>.retry`, consumers/parking.py) --------------------------------------------------
    def _read_parked(self, tp: TopicPartition, records: list) -> None:
        """Every record of a retry partition is held until due (then handed out in `_queue_due_parked`); the
        partition is read on past records not due yet, so none waits for another."""
        for record in records:
            if self._lot.seen(tp, record.offset):
                continue  # read again after a rebalance gave the partition back: held or handled already
            if self._lot.full(tp):
                self._partitions.pause(tp, record.offset, FULL_LOT_WAIT_SECONDS)
                break
            try:
                deferred = decode_deferred(record.value)
                envelope = _SCHEMA.load(deferred.event)  # decoded once: the worker gets this envelope
            except (ValueError, ValidationError) as error:
                self._lot.hold(tp, record, None, self._wall_clock(), envelope=f"undecodable event: {error}")
                continue
            self._lot.hold(tp, record, deferred, deferred.due_at, envelope=envelope)
        self._set_commit_point(tp)

    def _queue_due_parked(self) -> None:
        for tp, held in self._lot.due(self._wall_clock()):
            held.running = True
            connection_id = held.connection_id
            if connection_id is None and isinstance(held.envelope, Envelope):
                connection_id = self._connection_of_event(held.envelope)
            self._inflight.add(Work(tp, held.offset, _key(tp, held.record), connection_id,
                                    _bound(self._events.handle_parked, held), tracked=False,
                                    then=self._parked_finished))

    def _parked_finished(self, work: Work, result: Any) -> None:
        """On the loop thread: apply what `EventHandling.handle_parked` decided to the held record (if its partition is
        still ours: a rebalance may have given it to another copy meanwhile, which reads it again)."""
        self._inflight.finished(work)  # the parking lot keeps its offsets
        held = self._lot.get(work.tp, work.offset)
        if held is None:
            return
        held.running = False
        verdict, detail = result if isinstance(result, tuple) else ("again", result)
        if verdict == "resolved":
            self._partitions.attempts.pop((work.tp, held.offset), None)
            self._lot.resolve(work.tp, held.offset)
            self._set_commit_point(work.tp)
        elif verdict == "wait":  # its cart was not called: the circuit says when
            held.due_at = detail
        elif verdict == "failed":  # called and failed again: a cart answering some calls (its circuit stays
            held.due_at = max(detail, self._later_for(work.tp, held))  # closed) must not be asked every second
            log.info("%s: parked %s[%d]@%d failed again; looks again in %.1fs", self.kind, work.tp.topic,
                     work.tp.partition, held.offset, held.due_at - self._wall_clock())
        else:
            self._look_again_later(work.tp, held, detail)

    def _later_for(self, tp: TopicPartition, held: Held) -> float:
        """The record's own back-off (1 s doubling to RETRY_BACKOFF_MAX_SECONDS), counted per failed look."""
        key = (tp, held.offset)
        attempts = self._partitions.attempts[key] = self._partitions.attempts.get(key, 0) + 1
        return self._wall_clock() + self._backoff(attempts)

    def _look_again_later(self, tp: TopicPartition, held: Held, error: Retryable) -> None:
        key, now = (tp, held.offset), self._wall_clock()
        attempts = self._partitions.attempts[key] = self._partitions.attempts.get(key, 0) + 1
        held.due_at = now + (error.retry_after if error.retry_after is not None else self._backoff(attempts))
        self.observer.retried(self.kind, error.reason, error.details())
        log.warning("%s: parked %s[%d]@%d looks again in %.1fs: %s", self.kind, tp.topic, tp.partition,
                    held.offset, held.due_at - now, error.reason)

    def _set_commit_point(self, tp: TopicPartition) -> None:
        offset = self._lot.commit_offset(tp)
        if offset is not None:
            self._partitions.next_offsets[tp] = offset

    def _report(self) -> None:
        """For ops, at most once a second: work in flight; per connection, its circuit and parked events."""
        now = self._clock()
        if now < self._next_health_at:
            return
        self._next_health_at = now + HEALTH_INTERVAL_SECONDS
        self.observer.in_flight(self.kind, len(self._inflight.running), self._inflight.queued(),
                                self._inflight.deepest_key_queue())
        if self.circuits is None:
            return
        report = self.connection_health()
        self.observer.connections(self.kind, report)
        if self._health is not None:
            self._health.send(report)

    def connection_health(self) -> list[ConnectionHealth]:
        """Per connection this process knows of in its flow: failing or not, since when, events waiting."""
        if self.circuits is None:
            return []
        return health_report(self.circuits, self._lot.waiting_by_connection(), self._lot.oldest_parked())

    # -- commits ---------------------------------------------------------------------------------------------
    def _commit(self, force: bool = False) -> None:
        """Every COMMIT_INTERVAL_SECONDS and at stop, in the loop's own thread — never in a rebalance listener
        (partitions.py). A main partition's commit point is its lowest event not done (consumers/inflight.py); a
        retry partition's, its oldest held record (consumers/parking.py)."""
        now = self._clock()
        if not force and now < self._next_commit_at:
            return
        self._next_commit_at = now + COMMIT_INTERVAL_SECONDS
        book = self._partitions
        for tp in self._inflight.partitions():
            offset = self._inflight.commit_offset(tp)
            if offset is not None:
                book.next_offsets[tp] = offset
        pending = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in book.next_offsets.items()
                   if book.committed.get(tp) != offset}
        if not pending:
            return
        try:
            self._consumer.commit(pending)
            book.committed.update({tp: meta.offset for tp, meta in pending.items()})
        except KafkaError as error:  # e.g. the group rebalanced: these events will be redelivered, harmlessly
            log.warning("%s: commit failed (%s); the events will be redelivered", self.kind, error)


def _decoded(record) -> Envelope | str:
    """The record's envelope, or why it cannot be read (it is dead-lettered in its turn)."""
    try:
        return decode_envelope(record.value)
    except (ValueError, ValidationError) as error:
        return str(error)


def _key(tp: TopicPartition, record) -> tuple:
    """Events of one key run one after another: the Kafka key within the partition number (a parked record
    keeps its event's key and partition number). A record without a key orders with nothing."""
    if record.key is None:
        return tp.partition, None, tp.topic, record.offset
    return tp.partition, record.key


def _bound(function: Callable, *args) -> Callable[[], Any]:
    return lambda: function(*args)


class _RunningCount:
    """Events running per partition, written by the loop and the workers, read by the rebalance listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_partition: Counter = Counter()

    def add(self, tp: TopicPartition) -> None:
        with self._lock:
            self._by_partition[tp] += 1

    def remove(self, tp: TopicPartition) -> None:
        with self._lock:
            self._by_partition[tp] -= 1
            if self._by_partition[tp] <= 0:
                del self._by_partition[tp]

    def any_of(self, tps: set[TopicPartition]) -> bool:
        with self._lock:
            return any(tp in self._by_partition for tp in tps)
