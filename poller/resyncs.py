"""When Sync Inventory turns on for a connection (in the file or in Infoplus), push its whole LOB once; when it
turns to preview, preview the whole LOB once (the resync writes nothing then, and fills the preview report).

Otherwise a cart whose switch was just turned on would show stale stock until each item next changes. Preview
to on runs the resync again: it compares before writing, so its writes are exactly the differences preview showed.
The last mode seen per connection (off / preview / on) is kept beside the poller's cursors (key `switches:<id>`,
`{"sync_inventory": <on>, "mode": …}`), and saved only after the resync finished — a poller that dies mid-resync
runs it again as the next leader. A connection seen for the first time on (or in preview) counts as turned so.

At most RESYNCS_AT_ONCE run at a time; the others wait their turn (first turned, first served) and start as soon
as one ends. Each resync reads its own LOB (`item/search?filter=lobId eq N`) through the poller's share of the
Infoplus budget, whose calls are served in the order asked: 300 connections turned on at once would queue 300
resyncs' calls ahead of the next cycle's two searches (100 s at 2.9 calls/s); two at a time put at most two calls
ahead of each of them, so a resync never delays a cycle by more than a second or so.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from events.cursors import CursorStore
from infoplus.switches import SwitchBoard
from schemas.connection import Connection

log = logging.getLogger("poller.resyncs")
PREFIX = "switches:"
RESYNCS_AT_ONCE = 2

Resync = Callable[[Connection], bool]  # runs one connection's resync; True when every item landed


class ResyncOnSwitch:
    """A leader task: `run()` after each poll cycle, `reset()` when leadership is lost."""

    def __init__(self, connections: SwitchBoard, store: CursorStore, resync: Resync) -> None:
        self._connections = connections
        self._store = store
        self._resync = resync
        self._seen: dict[int, str] | None = None
        self._running: set[int] = set()
        self._waiting: dict[int, str] = {}  # connection id -> mode, in the order they turned
        self._lock = threading.Lock()

    def reset(self) -> None:
        self._seen = None
        with self._lock:
            self._waiting.clear()  # the next leader decides again from what was saved

    def run(self) -> None:
        if self._seen is None:
            self._seen = {int(key[len(PREFIX):]): _saved_mode(value)
                          for key, value in self._store.load().items() if key.startswith(PREFIX)}
        for connection in self._connections.all():
            now, was = inventory_mode(connection), self._seen.get(connection.id)
            if now != "off" and was != now:
                self._start(connection.id, now)
            elif now == "off" and was != "off":
                self._save(connection.id, "off")

    def _start(self, connection_id: int, mode: str) -> None:
        with self._lock:
            if connection_id in self._running:
                return
            if len(self._running) >= RESYNCS_AT_ONCE:
                self._waiting[connection_id] = mode
                return
            self._running.add(connection_id)
        threading.Thread(target=self._work, args=(connection_id, mode), daemon=True, name="resyncs").start()

    def _work(self, connection_id: int, mode: str) -> None:
        """Resync one connection, then the one that has waited longest, until none waits."""
        while True:
            self._resync_then_save(connection_id, mode)
            with self._lock:
                self._running.discard(connection_id)
                if not self._waiting:
                    return
                connection_id = next(iter(self._waiting))
                mode = self._waiting.pop(connection_id)
                self._running.add(connection_id)

    def _resync_then_save(self, connection_id: int, mode: str) -> None:
        try:
            connection = self._connections.get(connection_id)
            if connection is None or inventory_mode(connection) != mode:
                return  # changed while it waited: the next cycle starts what it is now
            log.info("Sync Inventory is %s for connection %s: full resync started%s", mode, connection.id,
                     " (preview: nothing is written)" if mode == "preview" else "")
            if self._resync(connection):
                self._save(connection.id, mode)
            else:
                log.warning("resync of connection %s left items behind; it runs again next cycle", connection.id)
        except Exception:  # a resync must never take the poller down; the next cycle tries again
            log.exception("resync of connection %s failed; it runs again next cycle", connection_id)

    def _save(self, connection_id: int, mode: str) -> None:
        self._store.save(f"{PREFIX}{connection_id}", {"sync_inventory": mode == "on", "mode": mode})
        if self._seen is not None:
            self._seen[connection_id] = mode


def inventory_mode(connection: Connection) -> str:
    """off | preview | on."""
    return "on" if connection.sync_inventory else "preview" if connection.previewing("inventory") else "off"


def _saved_mode(value: dict) -> str:
    return value.get("mode") or ("on" if value.get("sync_inventory") else "off")  # records from before preview
