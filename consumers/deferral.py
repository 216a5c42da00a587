"""Waiting for something that has not happened yet, without holding up anything else.

A handler raises `NotYet` when an event is fine but what it needs is still to come — a carton Infoplus wrote
before the order itself shows shipped. Retrying in place (pause, seek back) would stop every later event of the
partition for hours, so the engine instead writes the event to `<topic>.retry` with the moment it is due, and
commits the original: the wait is durable in Kafka, and the partition's other events keep flowing.

The engine consumes `<topic>.retry` beside the topic itself. A record not due yet is held in memory until it is
(consumers/parking.py), and the records behind it are read on: each is handled at its own due time. Looks are
spaced `first_delay`, doubling, up to `max_delay`. After `give_up_after` since the first look, the event is
dead-lettered with the handler's reason. The same topic holds events parked for a failing cart (with the
`connection_id` they wait for).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from marshmallow import RAISE, Schema, fields, post_load


@dataclass(frozen=True)
class DeferPolicy:
    """How a consumer waits: first delay, cap on the delay, and how long before it gives up (seconds)."""

    first_delay: float
    max_delay: float
    give_up_after: float

    def delay(self, looks: int) -> float:
        """The wait before look `looks + 1` (looks made so far: 1, 2, …)."""
        return min(self.max_delay, self.first_delay * 2 ** max(0, looks - 1))


@dataclass(frozen=True)
class Deferred:
    """One event waiting on `<topic>.retry`: the envelope, when it is due, and how long it has waited."""

    event: dict[str, Any]  # the envelope, as on the original topic
    due_at: float  # Unix time: looks cross processes, so not a monotonic clock
    first_deferred_at: float
    looks: int  # how many times the handler said "not yet"
    reason: str  # the handler's last "not yet", for ops reading the topic
    source: dict[str, Any]  # where the event first sat (topic, partition, offset): dead letters name it
    # Parked for a failing cart (consumers/parking.py): the connection it waits for, and since when that
    # connection's cart has been failing (Unix time). None for an event that waits for something still to come.
    connection_id: int | None = None
    failing_since: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _DeferredSchema(Schema):
    class Meta:
        unknown = RAISE

    event = fields.Dict(required=True)
    due_at = fields.Float(required=True)
    first_deferred_at = fields.Float(required=True)
    looks = fields.Integer(required=True, strict=True)
    reason = fields.String(required=True)
    source = fields.Dict(required=True)
    connection_id = fields.Integer(allow_none=True, load_default=None, strict=True)
    failing_since = fields.Float(allow_none=True, load_default=None)

    @post_load
    def _make(self, data: dict, **kwargs) -> Deferred:
        return Deferred(**data)


_SCHEMA = _DeferredSchema()


def decode_deferred(value: bytes | None) -> Deferred:
    """Raises ValueError or marshmallow.ValidationError for a record that is not a Deferred."""
    if not value:
        raise ValueError("empty record")
    return _SCHEMA.load(json.loads(value))


def waited(seconds: float) -> str:
    """`3 h 20 min`, `45 s`: how long an event waited, for a dead letter's reason."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
