"""One log format for every process, chosen by LOG_FORMAT:

- `text` (default): timestamp, level, logger, message with key=value fields — for people.
- `json`: one JSON object per line — `time`, `level`, `logger`, `message`, and the fields a call passes with
  `extra=event_fields(...)` (`event_id`, `connection`, `kind`, `outcome`, `code`) as their own keys, so a log
  store can select every line of one event or one connection. Tracebacks go in `exception`.

Neither format adds anything to what the message says: the messages are written without secrets or payloads,
and the fields are ids and one-word codes.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from typing import Any

# The structured fields a log call may carry (logging's `extra=`); nothing else of a LogRecord is emitted.
FIELDS = ("event_id", "connection", "kind", "outcome", "code")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def event_fields(kind: str, envelope: Any = None, outcome: str | None = None, *, connection: Any = None,
                 code: str | None = None) -> dict[str, Any]:
    """`extra=` for a log line about one event: its id and connection (the envelope's unless given)."""
    fields: dict[str, Any] = {"kind": kind}
    if envelope is not None:
        fields["event_id"] = envelope.event_id
        if connection is None:
            connection = envelope.connection_id
    if connection is not None:
        fields["connection"] = connection
    if outcome:
        fields["outcome"] = outcome
    if code:
        fields["code"] = code
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter(log_format: str | None = None) -> logging.Formatter:
    chosen = (log_format or os.environ.get("LOG_FORMAT") or "text").lower()
    if chosen == "json":
        return JsonFormatter()
    if chosen != "text":
        raise SystemExit(f"LOG_FORMAT must be text or json, not {chosen!r}")
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str | None = None) -> None:
    root = logging.getLogger()
    if root.handlers:  # gunicorn or pytest already configured it
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter())
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python is chatty at INFO
