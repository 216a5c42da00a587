"""The JSON envelope every Kafka value uses (DESIGN.md, "Kafka")."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load


@dataclass
class Envelope:
    """One event: who sent it, about which connection, the normalized payload and (for replay) the original."""

    event_id: str
    type: str
    connection_id: int | None
    source: str
    received_at: str
    payload: dict[str, Any]
    original: Any = None
    delivery: dict[str, Any] = field(default_factory=dict)  # sender's delivery metadata (topic, ids, timestamps)

    def to_dict(self) -> dict[str, Any]:
        # vars(), not dataclasses.asdict(): asdict deep-copies the payload, 10x the cost on the webhook path
        return dict(vars(self))

    def to_json(self) -> bytes:
        return json.dumps(vars(self), separators=(",", ":")).encode()


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # newer producers may add fields; older consumers keep working

    event_id = fields.String(required=True)
    type = fields.String(required=True)
    connection_id = fields.Integer(allow_none=True, load_default=None)
    source = fields.String(required=True)
    received_at = fields.String(required=True)
    payload = fields.Dict(required=True)
    original = fields.Raw(allow_none=True, load_default=None)
    delivery = fields.Dict(load_default=dict)

    @post_load
    def _make(self, data: dict, **kwargs) -> Envelope:
        return Envelope(**data)


def decode_envelope(value: bytes | None) -> Envelope:
    """Parse a Kafka value; raises ValueError or marshmallow.ValidationError on a poison message."""
    if not value:  # a tombstone or an empty record: json.loads(None) would raise TypeError
        raise ValueError("empty record value")
    return EnvelopeSchema().load(json.loads(value))
