"""What a handler reports for one event; failures are exceptions (outbound.errors, InvalidEvent)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class TargetSkipped:
    """One target of an event that fans out (e.g. one connection of a LOB) was deliberately left alone."""

    connection_id: int
    code: str  # machine-readable, one count per code: "sync_off", "not_in_cart" …
    reason: str
    # More fields for the side record, beside the engine's own (which win): what a preview saw and would write.
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetParked:
    """One target of a fanned-out event waits for its failing cart: the engine parks that part alone."""

    waiting: Any  # consumers.circuits.ConnectionWaiting (the connection, when it is due, why)


@dataclass(frozen=True)
class Outcome:
    skipped: bool
    reason: str
    # Per-target skips of a fanned-out event: one `<topic>.skipped` record each, published before the commit.
    targets_skipped: tuple[TargetSkipped, ...] = ()
    # Why it was skipped, for machines (a metric label, a filter in the ops console): "sync_off", "unpaid" …
    code: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # more fields for the skipped record (as TargetSkipped)
    # Per-target waits of a fanned-out event: each parked on `<topic>.retry` (before the commit) on its own.
    targets_parked: tuple[TargetParked, ...] = ()


def done(reason: str, targets_skipped: tuple[TargetSkipped, ...] = (),
         targets_parked: tuple[TargetParked, ...] = ()) -> Outcome:
    """The effect happened (or had already happened) for every target not listed in `targets_skipped` or
    `targets_parked`: commit once those are recorded."""
    return Outcome(False, reason, targets_skipped, targets_parked=targets_parked)


def skipped(reason: str, code: str = "other", extra: Mapping[str, Any] | None = None) -> Outcome:
    """Deliberately not acted on (a switch is off, the order is unpaid …): recorded on `<topic>.skipped`, commit.

    `code` is the reason in one word (`sync_off`, `stale`, `unpaid` …): the reason text names ids and versions, the
    code is what metrics count by and ops filter by. `extra`: more fields for the record (e.g. `connection_id`
    where the event names none, what a preview saw)."""
    return Outcome(True, reason, code=code, extra=extra or {})


class InvalidEvent(Exception):
    """The event itself can never be processed (unknown connection, no SKU …): dead-letter it."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class NotYet(Exception):
    """The event is fine, but what it needs has not happened yet (a carton read before its order shows shipped):
    look again later without holding up the partition (consumers/deferral.py); dead-lettered with this reason
    only once the consumer's wait bound has passed."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
