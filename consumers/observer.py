"""What the consumer engine tells whoever watches it (metrics, readiness); the engine knows nothing of Prometheus.

The engine calls these at the points where it already counts (`engine.counts`): every call is cheap and must
never raise into the loop. `NO_OBSERVER` is the default; `consumers.runner` installs `metrics.consumer`'s.
"""
from __future__ import annotations

from typing import Any, Protocol

from kafka import KafkaConsumer

from schemas.envelope import Envelope


class EngineObserver(Protocol):
    def polled(self, consumer: KafkaConsumer) -> None:
        """After each poll: the loop is alive; a chance (rate-limited by the observer) to measure lag."""

    def handled(self, kind: str, connection_id: int | None, outcome: str, code: str = "") -> None:
        """One event (or one target of a fanned-out event): done, skipped (with its code), duplicate, superseded."""

    def dead_lettered(self, kind: str, envelope: Envelope | None, reason: str, details: dict[str, Any]) -> None: ...

    def retried(self, kind: str, reason: str, details: dict[str, Any]) -> None: ...

    def handling_took(self, kind: str, seconds: float) -> None:
        """The handler's time for one event, whatever came of it."""

    def in_flight(self, kind: str, running: int, queued: int, deepest_key_queue: int) -> None:
        """Events being worked on, waiting to start, and the most waiting behind one key (consumers/inflight.py)."""

    def waited_for_slot(self, kind: str, seconds: float) -> None:
        """One event's time from being read to its handling starting."""

    def connections(self, kind: str, health: list) -> None:
        """After each loop: every known connection's circuit and parked events (consumers.circuits.ConnectionHealth)."""


class _NoObserver:
    def polled(self, consumer: KafkaConsumer) -> None:
        pass

    def handled(self, kind: str, connection_id: int | None, outcome: str, code: str = "") -> None:
        pass

    def dead_lettered(self, kind: str, envelope: Envelope | None, reason: str, details: dict[str, Any]) -> None:
        pass

    def retried(self, kind: str, reason: str, details: dict[str, Any]) -> None:
        pass

    def handling_took(self, kind: str, seconds: float) -> None:
        pass

    def in_flight(self, kind: str, running: int, queued: int, deepest_key_queue: int) -> None:
        pass

    def waited_for_slot(self, kind: str, seconds: float) -> None:
        pass

    def connections(self, kind: str, health: list) -> None:
        pass


NO_OBSERVER: EngineObserver = _NoObserver()
