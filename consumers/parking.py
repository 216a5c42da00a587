"""Events waiting on `<topic>.retry`, held in memory until they are due, so that no parked record holds up another.

Two kinds of event wait there (consumers/deferral.py `Deferred`): one whose prerequisite is still to come (a carton
seen before its order ships: `connection_id` None) and one **parked** for a failing cart (`connection_id` set: the
connection whose circuit is open, consumers/circuits.py). The engine reads each retry partition straight through:
a record due now is handled at once; one not due yet — or whose connection's cart is still failing — is *held*
here, and the records behind it are read on. Each held record is handled when it comes due, so another
connection's record waits for nothing but its own due time (and the loop's current batch).

Commits: a retry partition is committed up to its oldest held record, never past it. The hold itself is memory
only: after a restart or when another copy takes the partition over, its records are read again from there and
held again — nothing is lost. Records past the oldest held one that were handled already are remembered (by
offset) while this process keeps the partition, and skipped if read again; after a move to another copy they are
handled again, and the flows' look-before-write (tracking) or latest-value-wins state (inventory) makes that a no-op.

Memory is bounded: past MAX_HELD_PER_PARTITION held records, the engine stops reading that retry partition until
some are resolved (only a store down for days with hundreds of thousands of events reaches it).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kafka.structs import TopicPartition

from consumers.circuits import ConnectionWaiting
from consumers.deferral import Deferred
from schemas.envelope import Envelope

MAX_HELD_PER_PARTITION = 20_000


def parked_record(envelope: Envelope, waiting: ConnectionWaiting, deferred: Deferred | None, source: dict[str, Any],
                  now: float) -> Deferred:
    """What goes to `<topic>.retry` for an event waiting for a failing cart: the envelope narrowed to that connection
    (only its part is left: a fanned-out event's other parts are done), due at the circuit's next try. A record
    parked again (a carton that waited for its order, then hit the failing cart) keeps its first place and looks."""
    cid = waiting.connection_id
    return Deferred(event={**envelope.to_dict(), "connection_id": cid}, due_at=waiting.due_at,
                    first_deferred_at=deferred.first_deferred_at if deferred else now,
                    looks=deferred.looks if deferred else 0,
                    reason=f"connection {cid}'s cart is failing: {waiting.reason}",
                    source=deferred.source if deferred else source,
                    connection_id=cid, failing_since=waiting.failing_since)


def failing_since(deferred: Deferred) -> float:
    """Since when the cart a parked record waits for has been failing (Unix time), as known when it was parked."""
    return deferred.failing_since or deferred.first_deferred_at


def outage_reason(deferred: Deferred, limit_hours: float, last_error: str) -> tuple[str, dict[str, Any]]:
    """The dead letter's reason and details for a record whose cart has failed longer than the limit."""
    since = datetime.fromtimestamp(failing_since(deferred), timezone.utc).isoformat(timespec="seconds")
    reason = (f"connection {deferred.connection_id}'s cart has been failing since {since} (more than "
              f"{limit_hours:g} h): {last_error}")
    return reason, {"connection_id": deferred.connection_id, "failing_since": since}


@dataclass(eq=False)
class Held:
    """One record of a retry partition, read and waiting for `due_at` (Unix time)."""

    record: object  # the kafka ConsumerRecord
    deferred: Deferred | None  # None: the record is undecodable (it is dead-lettered when due)
    due_at: float
    envelope: Envelope | str = ""  # decoded once, when read; or why it cannot be
    running: bool = False  # handed to a worker: not handed out again until it returns

    @property
    def offset(self) -> int:
        return self.record.offset

    @property
    def connection_id(self) -> int | None:
        return self.deferred.connection_id if self.deferred else None


class ParkingLot:
    """Held records and done offsets per retry partition; what may be committed."""

    def __init__(self) -> None:
        self._held: dict[TopicPartition, dict[int, Held]] = {}
        self._done: dict[TopicPartition, set[int]] = {}  # handled, past the oldest held record
        self._read_to: dict[TopicPartition, int] = {}  # the next offset after the last one read

    # -- reading -----------------------------------------------------------------------------------------------
    def seen(self, tp: TopicPartition, offset: int) -> bool:
        """Read before (a seek back after a rebalance): held already, or handled already."""
        return offset in self._held.get(tp, {}) or offset in self._done.get(tp, ())

    def read(self, tp: TopicPartition, offset: int) -> None:
        self._read_to[tp] = max(self._read_to.get(tp, 0), offset + 1)

    def full(self, tp: TopicPartition) -> bool:
        return len(self._held.get(tp, {})) >= MAX_HELD_PER_PARTITION

    def hold(self, tp: TopicPartition, record, deferred: Deferred | None, due_at: float,
             envelope: Envelope | str = "") -> None:
        self._held.setdefault(tp, {})[record.offset] = Held(record, deferred, due_at, envelope)
        self.read(tp, record.offset)

    def get(self, tp: TopicPartition, offset: int) -> Held | None:
        """The held record, if its partition is still owned here and it is not resolved."""
        return self._held.get(tp, {}).get(offset)

    # -- handling ----------------------------------------------------------------------------------------------
    def due(self, now: float) -> list[tuple[TopicPartition, Held]]:
        """Held records due now and not running, oldest offset first within each partition (the engine hands
        them out in that order, one at a time per key)."""
        ready = []
        for tp, held in self._held.items():
            ready.extend((tp, h) for h in sorted(held.values(), key=lambda h: h.offset)
                         if h.due_at <= now and not h.running)
        return ready

    def resolve(self, tp: TopicPartition, offset: int) -> None:
        """Handled (done, skipped, dead-lettered or parked anew at the tail): no longer needed here."""
        held = self._held.get(tp, {})
        held.pop(offset, None)
        self.read(tp, offset)
        if not held:
            self._held.pop(tp, None)
            self._done.pop(tp, None)
            return
        oldest = min(held)
        done = {o for o in self._done.get(tp, ()) if o > oldest}
        if offset > oldest:
            done.add(offset)
        self._done[tp] = done

    def commit_offset(self, tp: TopicPartition) -> int | None:
        """The oldest held record's offset (what must be read again after a restart), else past the last read."""
        held = self._held.get(tp)
        return min(held) if held else self._read_to.get(tp)

    # -- for ops -----------------------------------------------------------------------------------------------
    def waiting_by_connection(self) -> Counter:
        """Held records per connection they wait for (connection None: waiting for something still to come)."""
        return Counter(h.connection_id for held in self._held.values() for h in held.values())

    def oldest_parked(self) -> dict[int, float]:
        """connection -> when its oldest held event was first parked (Unix time)."""
        oldest: dict[int, float] = {}
        for held in self._held.values():
            for h in held.values():
                if h.connection_id is not None and h.deferred is not None:
                    first = h.deferred.failing_since or h.deferred.first_deferred_at
                    oldest[h.connection_id] = min(oldest.get(h.connection_id, first), first)
        return oldest

    # -- rebalances --------------------------------------------------------------------------------------------
    def keep_only(self, owned: set[TopicPartition]) -> None:
        """Partitions owned elsewhere now: their records are read (and held) again by the new owner."""
        for book in (self._held, self._done, self._read_to):
            for tp in [tp for tp in book if tp not in owned]:
                del book[tp]
