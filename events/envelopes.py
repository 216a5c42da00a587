"""Building envelopes: event ids derived from the sender's delivery id, so a re-sent delivery keeps its id."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from schemas.envelope import Envelope

_NAMESPACE = uuid.UUID("8f7b6a52-3f1e-4c0e-9a43-2f6c1d1b7e10")  # cartbridge's own uuid5 namespace


def event_id_for(source: str, connection_id: int | None, dedupe_key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{source}|{connection_id}|{dedupe_key}"))


def make_envelope(*, event_type: str, source: str, connection_id: int | None, dedupe_key: str,
                  payload: dict[str, Any], original: Any = None, delivery: dict[str, Any] | None = None) -> Envelope:
    return Envelope(
        event_id=event_id_for(source, connection_id, dedupe_key),
        type=event_type,
        connection_id=connection_id,
        source=source,
        received_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        payload=payload,
        original=original,
        delivery=delivery or {},
    )
