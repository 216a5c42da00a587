"""What a handler reports for one event; failures are exceptions (outbound.errors, InvalidEvent)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    skipped: bool
    reason: str


def done(reason: str) -> Outcome:
    """The effect happened (or had already happened): commit."""
    return Outcome(False, reason)


def skipped(reason: str) -> Outcome:
    """Deliberately not acted on (a switch is off, the order is unpaid …): recorded on `<topic>.skipped`, commit."""
    return Outcome(True, reason)


class InvalidEvent(Exception):
    """The event itself can never be processed (unknown connection, no SKU …): dead-letter it."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
