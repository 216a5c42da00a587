"""The two kinds of failure a consumer must tell apart (see the package docstring)."""
from __future__ import annotations

from typing import Any


class OutboundError(Exception):
    """A failed call to an outside API, with what ops need to act on it."""

    def __init__(self, reason: str, *, status: int | None = None, body: Any = None, url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.body = body
        self.url = url

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason, "status": self.status, "body": self.body, "url": self.url}


class Retryable(OutboundError):
    """Transient: back off (at least `retry_after` seconds when the server said so) and try again."""

    def __init__(self, reason: str, *, retry_after: float | None = None, connection_id: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(reason, **kwargs)
        self.retry_after = retry_after
        # The cart connection whose API failed (set by consumers.circuits around cart calls); None: a shared API
        # (Infoplus, Kafka) — everyone waits for that, so the engine pauses the partition as before.
        self.connection_id = connection_id


class Permanent(OutboundError):
    """Retrying cannot help: dead-letter the event with this reason."""
