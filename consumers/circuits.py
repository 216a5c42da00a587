"""Per connection and flow: is this cart answering? A circuit breaker, so one merchant's broken cart costs only
its own events a wait.

A circuit is **closed** while the cart answers. A cart failure (429, 5xx, timeout, refused connection — anything
Retryable raised inside `Circuits.calling`) counts against it; it **opens**
- at once when the cart gave no answer at all (a timeout: each costs the loop a whole read timeout; a refused
  connection: certain) or said when to come back (Retry-After, clamped to CONNECTION_RETRY_MAX_SECONDS);
- after OPEN_AFTER_FAILURES consecutive failed answers otherwise (one 502 is a blip, not an outage).
While open, calls are refused without reaching the cart (`ConnectionWaiting`: the engine parks the event,
consumers/parking.py). When the back-off is over, the next call is the **probe**: it reaches the cart; success
closes the circuit, failure opens it again for twice as long (from RETRY_BACKOFF_INITIAL_SECONDS up to
CONNECTION_RETRY_MAX_SECONDS; after a timeout at least 3 read timeouts, since each probe of a hanging cart holds
the loop that long). The engine handles one event at a time, so there is only ever one probe.

Circuits live in the consumer process's memory: after a restart every circuit starts closed, and the first
parked event that comes due is the probe. Infoplus is shared by every connection: its failures never reach a
circuit (they are raised outside `calling`) and still pause the partition, as before.
"""
from __future__ import annotations

import random
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import requests

from outbound.errors import OutboundError, Retryable

OPEN_AFTER_FAILURES = 3
NO_ANSWER_BACKOFF_TIMEOUTS = 3
PROBE_WAIT_SECONDS = 1.0  # another event's probe is in flight: look again after this
MAX_ERROR_CHARS = 300  # the last error, for ops: the reason line (URL, status, the answer's gist), never a header


class ConnectionWaiting(Exception):
    """The connection's cart is failing: park this event (or this connection's part of it) until `due_at`."""

    def __init__(self, connection_id: int, due_at: float, reason: str, failing_since: float) -> None:
        super().__init__(f"connection {connection_id}: {reason}")
        self.connection_id = connection_id
        self.due_at = due_at  # Unix time
        self.reason = reason
        self.failing_since = failing_since


@dataclass
class Circuit:
    """One connection's health in one flow (times are Unix seconds)."""

    failures: int = 0  # consecutive
    opens: int = 0  # consecutive openings: each doubles the back-off
    failing_since: float | None = None
    retry_at: float | None = None  # open until then; None: closed
    last_error: str = ""
    probing: bool = False
    calls: int = 0  # in flight now, from this process's workers
    proven: bool = False  # answered once in this process: more than one call at a time may go

    @property
    def healthy(self) -> bool:
        return self.failures == 0

    def blocked_until(self, now: float) -> float | None:
        """When a call may be made again; None: now (closed, or the back-off is over: the probe). While one
        event's probe is in flight the others wait: one call, not one per worker, tells whether the cart is back."""
        if self.retry_at is not None and now < self.retry_at:
            return self.retry_at
        if self.probing:
            return now + PROBE_WAIT_SECONDS
        return None


@dataclass(frozen=True)
class Backoff:
    initial: float
    maximum: float  # CONNECTION_RETRY_MAX_SECONDS; a Retry-After is clamped to it too
    # After a timeout: a probe of a hanging cart holds the whole loop for a read timeout, so the next one waits at
    # least NO_ANSWER_BACKOFF_TIMEOUTS read timeouts (at most a quarter of the loop's time goes to probing it).
    after_no_answer: float = 0.0

    def delay(self, opens: int, retry_after: float | None, no_answer: bool = False) -> float:
        if retry_after is not None:
            return min(self.maximum, max(0.0, retry_after))
        jittered = self.initial * 2 ** max(0, opens - 1) * random.uniform(0.9, 1.1)  # copies must not probe in step
        return min(self.maximum, max(jittered, self.after_no_answer if no_answer else 0.0))


class Circuits:
    """The circuits of one flow (`tracking`, `inventory` …), one per connection, created on first use."""

    def __init__(self, flow: str, backoff: Backoff, clock: Callable[[], float] = time.time,
                 cap_of: Callable[[int], int] = lambda connection_id: 4, slot_wait_seconds: float = 15.0) -> None:
        self.flow = flow
        self._backoff = backoff
        self._clock = clock  # Unix time: parked records carry due times across processes
        self._circuits: dict[int, Circuit] = {}
        self._changed = threading.Condition()  # the engine's workers call carts side by side
        self.cap_of = cap_of  # a connection's calls in flight at once (its `max_in_flight`)
        self._slot_wait = slot_wait_seconds  # longer than one call's timeouts: a slot is freed within it

    @classmethod
    def from_settings(cls, flow: str, settings, registry=None) -> "Circuits":
        """`registry` (the connections file) gives a connection's own `max_in_flight`; else the setting."""
        def cap_of(connection_id: int) -> int:
            connection = registry.get(connection_id) if registry is not None else None
            return (connection.max_in_flight if connection else None) or settings.connection_max_in_flight

        return cls(flow, Backoff(settings.retry_backoff_initial_seconds, settings.connection_retry_max_seconds,
                                 after_no_answer=NO_ANSWER_BACKOFF_TIMEOUTS * settings.http_read_timeout_seconds),
                   cap_of=cap_of, slot_wait_seconds=sum(settings.http_timeout) + 2.0)

    def get(self, connection_id: int) -> Circuit:
        return self._circuits.setdefault(connection_id, Circuit())  # atomic: one Circuit per connection

    def all(self) -> dict[int, Circuit]:
        return dict(self._circuits)

    @contextmanager
    def calling(self, connection_id: int) -> Iterator[None]:
        """Wrap every call to this connection's cart: refused while open; at most the connection's cap at once
        (one until the cart has answered once in this process, so a cart hanging from the start costs one
        timeout, not one per worker); the outcome is counted.

        A cart that answered at all with a non-retryable error (a 4xx: Permanent) is up: that counts as success."""
        circuit = self._take_slot(connection_id)
        try:
            yield
        except Retryable as error:
            error.connection_id = connection_id
            with self._changed:
                waiting = self._failed(connection_id, error)
            raise waiting from error
        except OutboundError:
            with self._changed:
                self._succeeded(circuit)
            raise
        except BaseException:  # not the cart's answer (a bug, a stop): the probe, if it was one, is not spent
            with self._changed:
                circuit.probing = False
            raise
        else:
            with self._changed:
                self._succeeded(circuit)
        finally:
            with self._changed:
                circuit.calls -= 1
                self._changed.notify_all()

    def _take_slot(self, connection_id: int) -> Circuit:
        """Wait (bounded) for room among the connection's calls in flight; ConnectionWaiting while it is open."""
        circuit = self.get(connection_id)
        give_up_at = time.monotonic() + self._slot_wait
        cap = self.cap_of(connection_id)  # read outside the lock: the registry may reload its file
        with self._changed:
            while True:
                now = self._clock()
                blocked = circuit.blocked_until(now)
                if blocked is not None:
                    raise ConnectionWaiting(connection_id, blocked, circuit.last_error, circuit.failing_since or now)
                room = cap if circuit.proven and circuit.healthy else 1
                if circuit.calls < room:
                    break
                if time.monotonic() >= give_up_at:  # calls in flight past their own timeouts: look again soon
                    raise ConnectionWaiting(connection_id, now + PROBE_WAIT_SECONDS, "busy: calls in flight",
                                            circuit.failing_since or now)
                self._changed.wait(timeout=0.5)
            circuit.calls += 1
            circuit.probing = circuit.retry_at is not None
        return circuit

    def _failed(self, connection_id: int, error: Retryable) -> ConnectionWaiting:
        circuit, now = self.get(connection_id), self._clock()
        circuit.failures += 1
        circuit.probing = False
        circuit.failing_since = circuit.failing_since or now
        circuit.last_error = shown_to_ops(error.reason)
        no_answer, probed = _no_answer(error), circuit.retry_at is not None  # a failed probe always reopens
        if probed or circuit.failures >= OPEN_AFTER_FAILURES or error.retry_after is not None or no_answer:
            circuit.opens += 1
            circuit.retry_at = now + self._backoff.delay(circuit.opens, error.retry_after, no_answer)
            due = circuit.retry_at
        else:  # not open yet: this event alone waits a short while
            due = now + self._backoff.delay(circuit.failures, None)
        return ConnectionWaiting(connection_id, due, circuit.last_error, circuit.failing_since)

    @staticmethod
    def _succeeded(circuit: Circuit) -> None:
        circuit.proven = True
        circuit.failures = circuit.opens = 0
        circuit.failing_since = circuit.retry_at = None
        circuit.last_error = ""
        circuit.probing = False


def shown_to_ops(reason: str) -> str:
    """The reason line without what could carry a credential (a URL's user:password@ or query string), cut short:
    it goes to the health topic, the console and cartbridge-status."""
    reason = re.sub(r"//[^/\s@]+@", "//", reason)
    return re.sub(r"\?[^\s:]*", "", reason)[:MAX_ERROR_CHARS]


def _no_answer(error: Retryable) -> bool:
    """A timeout or a refused connection (outbound/http.py raises those `from` the requests exception)."""
    return isinstance(error.__cause__, (requests.Timeout, requests.ConnectionError))


class _NoCircuits:
    """For a handler built without circuits (unit tests, commands): every call goes to the cart."""

    flow = ""

    @contextmanager
    def calling(self, connection_id: int) -> Iterator[None]:
        yield


NO_CIRCUITS = _NoCircuits()


@dataclass(frozen=True)
class ConnectionHealth:
    """What ops see of one connection in one flow (times are Unix seconds; no secret, no payload)."""

    flow: str
    connection_id: int
    failing: bool  # failing, open or probing
    failing_since: float | None
    last_error: str
    waiting: int  # parked events held by this process for it
    next_try: float | None  # when the circuit lets the next call through (None: now)

    def to_dict(self) -> dict:
        return {"flow": self.flow, "connection_id": self.connection_id, "failing": self.failing,
                "failing_since": self.failing_since, "last_error": self.last_error, "waiting": self.waiting,
                "next_try": self.next_try}


def health_report(circuits: Circuits, waiting: dict, oldest_parked: dict[int, float]) -> list[ConnectionHealth]:
    """Every connection with a circuit or parked events. Parked events read back after a restart (the circuit
    starts closed) show as failing since they were parked, until one of them gets through."""
    report = []
    known = {*circuits.all(), *(cid for cid in waiting if cid is not None)}
    for cid in sorted(known):
        circuit = circuits.get(cid)
        failing = not circuit.healthy or waiting.get(cid, 0) > 0
        since = (circuit.failing_since or oldest_parked.get(cid)) if failing else None
        report.append(ConnectionHealth(circuits.flow, cid, failing, since, circuit.last_error,
                                       waiting.get(cid, 0), circuit.retry_at))
    return report
