"""The poller's freshness: leadership, last whole cycle, each cursor's age — and a status record for ops.

Wrappers around the poller's own parts (cursor store, leadership) plus one leader task, put together in
`poller.__main__.build`, so the polling loop itself stays as it is. The status record (`status:poller` on the
cursor topic, ignored by the cursor readers) tells the ops console and `cartbridge-status` when the leader last
finished a cycle and how many Infoplus calls it spent, without scraping the poller.
"""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from metrics.families import POLLER_CURSOR_AGE, POLLER_LAST_CYCLE, POLLER_LEADER, POLLER_REJOIN_REBUILDS
from metrics.outbound import calls_made
from poller.cursors import ALL_LOBS

STATUS_KEY = "status:poller"


def cursor_age_seconds(since: str, now: float | None = None) -> float | None:
    """Seconds between a cursor's Infoplus `modifyDate` (ISO-8601; UTC unless it names an offset) and now."""
    try:
        moment = datetime.fromisoformat(since)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (now if now is not None else time.time()) - moment.timestamp()


class ObservedCursors:
    """A CursorStore that keeps each cursor's age as a gauge per source and LOB (computed when scraped).

    One cursor now covers every LOB of its source (`shipments:all`, poller/cursors.py): each LOB with a connection
    (`lobs()`) shows that cursor's age, so the gauge keeps its labels. Cursors per LOB an earlier version saved
    are shown only until their source's own cursor is seen.
    """

    def __init__(self, store, lobs: Callable[[], Iterable[int]] = tuple) -> None:
        self._store = store
        self._lobs = lobs
        self._since: dict[tuple[str, str], str] = {}

    def load(self) -> dict[str, dict[str, Any]]:
        values = self._store.load()
        for name, value in sorted(values.items(), key=lambda item: item[0].endswith(":" + ALL_LOBS)):
            self._observe(name, value)  # the cursors per LOB first: their source's own cursor replaces them
        return values

    def save(self, name: str, value: dict[str, Any]) -> None:
        self._store.save(name, value)
        self._observe(name, value)

    def _observe(self, name: str, value: dict[str, Any]) -> None:
        source, _, lob = name.partition(":")
        if not isinstance(value, dict) or "since" not in value:
            return  # switches:<id>, status:poller …
        if lob == ALL_LOBS:
            self._observe_every_lob(source, value["since"])
        elif lob.isdigit():
            self._set((source, lob), value["since"])

    def _observe_every_lob(self, source: str, since: str) -> None:
        connected = {str(lob) for lob in self._lobs()}
        for key in [key for key in self._since if key[0] == source and key[1] not in connected]:
            POLLER_CURSOR_AGE.remove(*key)  # a LOB no longer connected: its age would mean nothing
            del self._since[key]
        for lob in connected:
            self._set((source, lob), since)

    def _set(self, key: tuple[str, str], since: str) -> None:
        if key not in self._since:
            POLLER_CURSOR_AGE.labels(*key).set_function(lambda: cursor_age_seconds(self._since.get(key)) or 0.0)
        self._since[key] = since


class ObservedLeadership:
    def __init__(self, leadership) -> None:
        self._leadership = leadership

    def held(self) -> bool:
        held = self._leadership.held()
        POLLER_LEADER.set(1 if held else 0)
        POLLER_REJOIN_REBUILDS.set(self._leadership.rebuilds)
        return held

    @property
    def term(self) -> int:
        return self._leadership.term

    def close(self) -> None:
        POLLER_LEADER.set(0)
        self._leadership.close()


class PollerHeartbeat:
    """A leader task (runs after each whole cycle): the last-cycle gauge and the `status:poller` record."""

    def __init__(self, store) -> None:
        self._store = store
        self._member = f"{socket.gethostname()}/{os.getpid()}"

    def run(self) -> None:
        POLLER_LAST_CYCLE.set(time.time())
        self._store.save(STATUS_KEY, {
            "last_cycle_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "leader": self._member, "infoplus_calls": calls_made("infoplus")})

    def reset(self) -> None:
        pass
