"""When Sync Inventory turns on for a connection (in the file or in Infoplus), push its whole LOB once.

Otherwise a cart whose switch was just turned on would show stale stock until each item next changes.
The last switch value seen per connection is kept beside the poller's cursors (key `switches:<id>`), and saved
as "on" only after the resync finished — a poller that dies mid-resync runs it again as the next leader.
A connection seen for the first time with the switch on counts as turned on.
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

Resync = Callable[[Connection], bool]  # runs one connection's resync; True when every item landed


class ResyncOnSwitch:
    """A leader task: `run()` after each poll cycle, `reset()` when leadership is lost."""

    def __init__(self, connections: SwitchBoard, store: CursorStore, resync: Resync) -> None:
        self._connections = connections
        self._store = store
        self._resync = resync
        self._seen: dict[int, bool] | None = None
        self._running: set[int] = set()
        self._lock = threading.Lock()

    def reset(self) -> None:
        self._seen = None

    def run(self) -> None:
        if self._seen is None:
            self._seen = {int(key[len(PREFIX):]): value["sync_inventory"]
                          for key, value in self._store.load().items() if key.startswith(PREFIX)}
        for connection in self._connections.all():
            was_on = self._seen.get(connection.id)
            if connection.sync_inventory and was_on is not True:
                self._start(connection)
            elif not connection.sync_inventory and was_on is not False:
                self._save(connection.id, False)

    def _start(self, connection: Connection) -> None:
        with self._lock:
            if connection.id in self._running:
                return
            self._running.add(connection.id)
        log.info("Sync Inventory is on for connection %s: full resync started", connection.id)
        threading.Thread(target=self._resync_then_save, args=(connection,), daemon=True,
                         name=f"resync-{connection.id}").start()

    def _resync_then_save(self, connection: Connection) -> None:
        try:
            if self._resync(connection):
                self._save(connection.id, True)
            else:
                log.warning("resync of connection %s left items behind; it runs again next cycle", connection.id)
        except Exception:  # a resync must never take the poller down; the next cycle tries again
            log.exception("resync of connection %s failed; it runs again next cycle", connection.id)
        finally:
            with self._lock:
                self._running.discard(connection.id)

    def _save(self, connection_id: int, on: bool) -> None:
        self._store.save(f"{PREFIX}{connection_id}", {"sync_inventory": on})
        if self._seen is not None:
            self._seen[connection_id] = on
