"""What a consumer engine's worker does with one event: run the handler and record what came of it.

The engine's loop thread (consumers/engine.py) decides which event runs when; this is the other half, run on its
worker threads, many events at once — so everything here is safe to share: the counts and the memory of recent
event ids are behind a lock, the publisher and the circuits are thread-safe, and each thread binds its own
partition's state (consumers/state.py). What happens to an event:
- the handler's Outcome: done (remembered, so a repeat is a duplicate), or skipped (`<topic>.skipped`); a
  fanned-out event's skipped and parked parts are recorded first;
- `Permanent` / `InvalidEvent` / a payload `ValidationError`: dead-lettered (`<topic>.dlq`) with the reason;
- `NotYet`: parked on `<topic>.retry` until its next look (consumers/deferral.py), or dead-lettered after the wait;
- `ConnectionWaiting` (a connection's cart is failing): parked for that connection (consumers/parking.py);
- `Retryable` (Infoplus, Kafka: everyone's): raised to the engine, which sets the partition back;
- anything else (a bug): retried as Retryable, dead-lettered with its traceback after UNEXPECTED_ERROR_ATTEMPTS.
Every side record is acknowledged by the broker before the event counts as handled; one that cannot be written
makes the event Retryable.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Callable, Container

from kafka.structs import TopicPartition
from marshmallow import ValidationError

from config.logs import event_fields
from config.settings import Settings
from consumers.circuits import Circuits, ConnectionWaiting
from consumers.deferral import DeferPolicy, Deferred, waited
from consumers.observer import NO_OBSERVER, EngineObserver
from consumers.outcomes import InvalidEvent, NotYet, Outcome, TargetSkipped
from consumers.parking import Held, failing_since, outage_reason, parked_record
from events import topics
from events.publisher import BrokerUnavailable, EventTooLarge, Publisher
from outbound.errors import Permanent, Retryable
from schemas.envelope import Envelope

log = logging.getLogger("consumers.engine")

Handler = Callable[[Envelope], Outcome]
RECENT_EVENT_IDS = 10_000
MAX_TRACEBACK_CHARS = 4000  # the end of a traceback says where it failed; keep dead letters readable
HOUR = 3600.0


def source_of(record) -> dict:
    """Where the event sits on its own topic: side records name it, for ops and for cartbridge-replay."""
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _remembered_as(envelope: Envelope, deferred: Deferred | None) -> str:
    """A parked part of a fanned-out event is its own effect: remembered apart from the event's other parts."""
    if deferred is None or deferred.connection_id is None:
        return envelope.event_id
    return f"{envelope.event_id}:{deferred.connection_id}"


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class EventHandling:
    """One consumer's handling of one event at a time per thread; the engine owns it and its settings."""

    def __init__(self, *, kind: str, topic: str, handler: Handler, settings: Settings, publisher: Publisher,
                 defer: DeferPolicy | None, circuits: Circuits | None, wall_clock: Callable[[], float],
                 bind_state: Callable[[TopicPartition], None],
                 attempts_of: Callable[[TopicPartition, int], int]) -> None:
        self.kind = kind
        self.topic = topic
        self._handler = handler
        self._settings = settings
        self._publisher = publisher
        self._defer_policy = defer  # None: a NotYet is dead-lettered at once
        self.circuits = circuits
        self._wall_clock = wall_clock
        self._bind_state = bind_state  # the handler reads and writes its event's input partition's state
        self._attempts_of = attempts_of  # how often the engine has retried this record already
        self._lock = threading.Lock()  # counts and recent event ids, written by every worker
        self._recent: OrderedDict[str, None] = OrderedDict()  # event ids handled by this process
        self.counts: dict[str, int] = {"done": 0, "skipped": 0, "dead_lettered": 0, "retried": 0, "duplicate": 0}
        self.observer: EngineObserver = NO_OBSERVER

    # -- one event ---------------------------------------------------------------------------------------------
    def process(self, record, envelope: Envelope, deferred: Deferred | None,
                redundant: Container[str] = frozenset()) -> None:
        """Handle one event (or a parked part of one) unless this process did it already or a later event of the
        same key in its batch makes it redundant."""
        remembered = _remembered_as(envelope, deferred)
        if self._seen_recently(remembered):
            self.count("duplicate")
            self.observer.handled(self.kind, envelope.connection_id, "duplicate")
            log.info("%s: duplicate event_id=%s ignored", self.kind, envelope.event_id,
                     extra=event_fields(self.kind, envelope, "duplicate"))
            return
        if envelope.event_id in redundant:
            self.count("superseded")
            self.observer.handled(self.kind, envelope.connection_id, "superseded")
            log.info("%s: superseded event_id=%s: a newer event for the same key follows in this batch",
                     self.kind, envelope.event_id, extra=event_fields(self.kind, envelope, "superseded"))
            return
        if self._handle(record, envelope, deferred):
            self._remember(remembered)  # only effects: a skipped or dead-lettered event may be replayed

    def _call_handler(self, record, envelope: Envelope) -> Outcome:
        self._bind_state(TopicPartition(record.topic, record.partition))  # this thread's partition state
        started = time.perf_counter()
        try:
            return self._handler(envelope)
        finally:
            self.observer.handling_took(self.kind, time.perf_counter() - started)

    def _handle(self, record, envelope: Envelope, deferred: Deferred | None = None) -> bool:
        """Run the handler and record what came of it; True when the effect happened (or had already)."""
        source = deferred.source if deferred else source_of(record)  # side records name where the event first sat
        try:
            outcome = self._call_handler(record, envelope)
        except (Permanent, InvalidEvent) as error:
            details = error.details() if isinstance(error, Permanent) else error.details
            self.dead_letter(record, envelope, error.reason, details, source)
        except ValidationError as error:  # a payload this consumer cannot read: poison, not transient
            self.dead_letter(record, envelope, "event payload failed validation", {"messages": error.messages},
                             source)
        except NotYet as error:
            self._not_yet(record, envelope, error, deferred)
        except ConnectionWaiting as waiting:
            if deferred is not None and deferred.connection_id == waiting.connection_id:
                raise  # a parked record still waiting: it stays held (consumers/parking.py), nothing is written
            self._park(record, envelope, waiting, deferred)
        except Retryable:
            raise
        except Exception as error:  # a bug: never lose the event, never crash the group
            self._unexpected(record, envelope, error, source)
        else:
            if isinstance(outcome, Outcome):
                return self._record_outcome(record, envelope, outcome, source, deferred)
            self._unexpected(record, envelope, TypeError(f"the handler returned {outcome!r}, not an Outcome"),
                             source)
        return False

    def _not_yet(self, record, envelope: Envelope, error: NotYet, deferred: Deferred | None) -> None:
        """Park the event on `<topic>.retry` until its next look, or dead-letter it once the wait is over."""
        now, policy = self._wall_clock(), self._defer_policy
        source = deferred.source if deferred else source_of(record)
        first = deferred.first_deferred_at if deferred else now
        looks = (deferred.looks if deferred else 0) + 1
        if policy is None or now - first >= policy.give_up_after:
            reason = error.reason if policy is None else f"{error.reason} (still so after {waited(now - first)}, " \
                                                         f"{looks} looks)"
            self.dead_letter(record, envelope, reason, error.details, source)
            return
        due_at = now + policy.delay(looks)
        parked = Deferred(event=envelope.to_dict(), due_at=due_at, first_deferred_at=first, looks=looks,
                          reason=error.reason, source=source)
        try:
            self._publisher.publish_record(topics.retry(self.topic), record.key, parked.to_dict())
        except BrokerUnavailable as unavailable:  # not parked, so not done: retry the event later
            raise Retryable(f"could not write to {topics.retry(self.topic)}: {unavailable}") from unavailable
        self.count("deferred")
        log.info("%s: deferred event_id=%s connection=%s look %d, next in %.0fs: %s", self.kind,
                 envelope.event_id, envelope.connection_id, looks, due_at - now, error.reason)

    def _unexpected(self, record, envelope: Envelope, error: Exception, source: dict) -> None:
        """Retry it, loudly, in case it passes; after `unexpected_error_attempts`, dead-letter it with the
        traceback so the partition moves on (fix the cause, then replay it from the dead letters)."""
        log.exception("%s: unexpected error on event_id=%s", self.kind, envelope.event_id,
                      extra=event_fields(self.kind, envelope, "unexpected_error"))
        attempts = self._attempts_of(TopicPartition(record.topic, record.partition), record.offset) + 1
        reason = f"unexpected {error.__class__.__name__}: {error}"
        if attempts < self._settings.unexpected_error_attempts:
            raise Retryable(reason) from error
        trace = "".join(traceback.format_exception(error))[-MAX_TRACEBACK_CHARS:]
        self.dead_letter(record, envelope, f"{reason} (after {attempts} attempts)", {"traceback": trace}, source)

    # -- what came of it: side records ---------------------------------------------------------------------------
    def _record_outcome(self, record, envelope: Envelope, outcome: Outcome, source: dict,
                        deferred: Deferred | None = None) -> bool:
        for target in outcome.targets_skipped:  # recorded before the event counts as done
            self._record_target_skipped(record, envelope, target, source)
        for parked in outcome.targets_parked:  # likewise: each waiting part is on `<topic>.retry` first
            self._park(record, envelope, parked.waiting, deferred)
        if outcome.skipped:
            self._publish_side_record(topics.skipped(self.topic), record, {
                **outcome.extra,  # a handler's own fields (e.g. what a preview saw); the engine's win
                "reason": outcome.reason, "code": outcome.code, "consumer": self.kind, "skipped_at": _now_iso(),
                "source": source, "event": envelope.to_dict()})
            self.count("skipped")
            self.observer.handled(self.kind, envelope.connection_id, "skipped", outcome.code)
            log.info("%s: skipped event_id=%s connection=%s reason=%s",
                     self.kind, envelope.event_id, envelope.connection_id, outcome.reason,
                     extra=event_fields(self.kind, envelope, "skipped", code=outcome.code))
            return False
        self.count("done")
        self.observer.handled(self.kind, envelope.connection_id, "done")
        log.info("%s: done event_id=%s connection=%s %s",
                 self.kind, envelope.event_id, envelope.connection_id, outcome.reason,
                 extra=event_fields(self.kind, envelope, "done"))
        return True

    def _record_target_skipped(self, record, envelope: Envelope, target: TargetSkipped, source: dict) -> None:
        self._publish_side_record(topics.skipped(self.topic), record, {
            **target.extra, "reason": target.reason, "code": target.code, "connection_id": target.connection_id,
            "consumer": self.kind, "skipped_at": _now_iso(), "source": source, "event": envelope.to_dict()})
        counter = f"skipped.{target.code}"
        so_far = self.count(counter)
        self.observer.handled(self.kind, target.connection_id, "skipped", target.code)
        log.info("%s: skipped event_id=%s connection=%s code=%s reason=%s (%s so far: %d)", self.kind,
                 envelope.event_id, target.connection_id, target.code, target.reason, counter, so_far,
                 extra=event_fields(self.kind, envelope, "skipped", connection=target.connection_id, code=target.code))

    def dead_letter(self, record, envelope: Envelope | None, reason: str, details: dict,
                    source: dict | None = None) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self._publish_side_record(topics.dead_letters(self.topic), record, {
            "reason": reason, "error": details, "attempts": self._attempts_of(tp, record.offset) + 1,
            "consumer": self.kind, "failed_at": _now_iso(),
            "source": source or source_of(record),
            "event": envelope.to_dict() if envelope else None,
            "raw": None if envelope else (record.value or b"").decode("utf-8", "replace"),
        })
        self.count("dead_lettered")
        self.observer.dead_lettered(self.kind, envelope, reason, details)
        log.warning("%s: dead-lettered event_id=%s reason=%s",
                    self.kind, envelope.event_id if envelope else "?", reason,
                    extra=event_fields(self.kind, envelope, "dead_lettered"))

    def _publish_side_record(self, topic: str, record, value: dict) -> None:
        try:
            try:
                self._publisher.publish_record(topic, record.key, value)
            except EventTooLarge as error:  # the side topic's limit is smaller: keep the reason, point at the event
                log.warning("%s: %s refused the record for its size; writing it without the event", self.kind, topic)
                self._publisher.publish_record(topic, record.key, {
                    **value, "event": None, "raw": None,
                    "event_omitted": f"too large for {topic} ({error}); read it at 'source'"})
        except (BrokerUnavailable, EventTooLarge) as error:  # not recorded, so not done: retry the event later
            raise Retryable(f"could not write to {topic}: {error}") from error

    # -- shared between the workers -----------------------------------------------------------------------------
    def _remember(self, event_id: str) -> None:
        with self._lock:
            self._recent[event_id] = None
            if len(self._recent) > RECENT_EVENT_IDS:
                self._recent.popitem(last=False)

    def _seen_recently(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self._recent

    def count(self, name: str) -> int:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            return self.counts[name]

    # -- parked events (`<topic>.retry`, consumers/parking.py) --------------------------------------------------
    def _park(self, record, envelope: Envelope, waiting: ConnectionWaiting, deferred: Deferred | None) -> None:
        """Write the event — narrowed to the waiting connection: only its part is left — to `<topic>.retry`,
        due when that connection's circuit lets a call through again. The cart is not called meanwhile."""
        now, cid = self._wall_clock(), waiting.connection_id
        parked = parked_record(envelope, waiting, deferred, source_of(record), now)
        try:
            self._publisher.publish_record(topics.retry(self.topic), record.key, parked.to_dict())
        except BrokerUnavailable as unavailable:  # not parked, so not done: retry the event later
            raise Retryable(f"could not write to {topics.retry(self.topic)}: {unavailable}") from unavailable
        self.count("parked")
        self.observer.handled(self.kind, cid, "parked")
        log.info("%s: parked event_id=%s connection=%s, due in %.1fs: %s", self.kind, envelope.event_id, cid,
                 max(0.0, waiting.due_at - now), waiting.reason,
                 extra=event_fields(self.kind, envelope, "parked", connection=cid))

    def handle_parked(self, held: Held) -> tuple[str, Any]:
        """On a worker: a held record is due; hand it to the handler — unless its connection's cart is still
        failing, when it waits on (held, nothing written) or, failing for too long, is dead-lettered. Returns what
        the loop thread does with the held record: ("resolved", None), ("wait", due_at) when its cart was not
        called, ("failed", due_at) when it was and failed again, or ("again", error)."""
        if not isinstance(held.envelope, Envelope):  # undecodable
            self.dead_letter(held.record, None, held.envelope, {})
            return "resolved", None
        deferred, envelope, now = held.deferred, held.envelope, self._wall_clock()
        try:
            self._raise_if_still_failing(deferred, now)
        except ConnectionWaiting as waiting:
            return self._still_waiting(held, waiting, now, "wait")
        try:
            self.process(held.record, envelope, deferred)
        except ConnectionWaiting as waiting:
            return self._still_waiting(held, waiting, now, "failed")
        except Retryable as error:  # Infoplus or Kafka: everyone's; this record looks again after a back-off
            return "again", error
        return "resolved", None

    def _still_waiting(self, held: Held, waiting: ConnectionWaiting, now: float, verdict: str) -> tuple[str, Any]:
        if not self._outage_over(held.deferred, now):
            return verdict, waiting.due_at
        try:
            self._dead_letter_outage(held.record, held.envelope, held.deferred, waiting)
        except Retryable as error:  # the dead letter was not written: this record stays held
            return "again", error
        return "resolved", None

    def _raise_if_still_failing(self, deferred: Deferred, now: float) -> None:
        """ConnectionWaiting while the record's connection's circuit lets no call through (the probe may go)."""
        if deferred.connection_id is None or self.circuits is None:
            return
        circuit = self.circuits.get(deferred.connection_id)
        blocked = circuit.blocked_until(now)
        if blocked is not None:
            raise ConnectionWaiting(deferred.connection_id, blocked, circuit.last_error or deferred.reason,
                                    circuit.failing_since or now)

    def _outage_over(self, deferred: Deferred, now: float) -> bool:
        return now - failing_since(deferred) >= self._settings.connection_outage_dead_letter_hours * HOUR

    def _dead_letter_outage(self, record, envelope: Envelope, deferred: Deferred, waiting: ConnectionWaiting) -> None:
        reason, details = outage_reason(deferred, self._settings.connection_outage_dead_letter_hours, waiting.reason)
        self.dead_letter(record, envelope, reason, details, deferred.source)
