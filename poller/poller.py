"""The polling loop: for each source, one search across every LOB for what changed since the source's cursor;
what belongs to a LOB with a connection is published, the rest is counted and dropped."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol, Sequence

from marshmallow import ValidationError

from config.connections import ConnectionRegistry
from config.settings import Settings
from events.cursors import CursorStore
from events.publisher import BrokerUnavailable, Publisher
from infoplus.client import SEARCH_PAGE_LIMIT, InfoplusClient
from metrics.families import POLLER_UNCONNECTED_ROWS
from outbound.errors import OutboundError, Retryable
from poller.cursors import cursor_key, upgraded
from poller.leadership import Leadership
from poller.order_snapshots import attach_orders
from poller.sources import SOURCES, Cursor, Source

log = logging.getLogger("poller")
CURSOR_TOPIC = "infoplus.poller.cursors"
EVENT_SOURCE = "infoplus-poller"
# A 429 or 5xx without Retry-After is asked again after 0.5 s, doubling up to this.
MAX_RETRY_WAIT_SECONDS = 8.0


class LeadershipLost(Exception):
    """Another copy leads now: stop this cycle where it is (nothing past the last saved cursor is lost)."""


def iso_ago(seconds: float) -> str:
    moment = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LeaderTask(Protocol):
    """Work that rides on the poll cycle of the leader only (e.g. resyncs when a switch turns on)."""

    def run(self) -> None: ...

    def reset(self) -> None: ...


class Poller:
    def __init__(self, *, settings: Settings, registry: ConnectionRegistry, infoplus: InfoplusClient,
                 publisher: Publisher, cursors: CursorStore, leadership: Leadership,
                 tasks: Sequence[LeaderTask] = ()) -> None:
        self._settings = settings
        self._registry = registry
        self._infoplus = infoplus
        self._publisher = publisher
        self._store = cursors
        self._leadership = leadership
        self._saved: dict[str, dict] | None = None  # the cursor topic, read when leadership is acquired
        self._stopping = threading.Event()
        self._tasks = tasks
        self._retry_budget = 0.0  # seconds of 429/5xx waits this cycle may still spend
        self._term: int | None = None  # the leadership term the cursors were read in

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        log.info("poller started: every %.0f s, %.1f Infoplus calls/s",
                 self._settings.infoplus_poll_seconds, self._settings.infoplus_calls_per_second)
        try:
            while not self._stopping.is_set():
                wait = self._settings.infoplus_poll_seconds
                if self._leadership.held():
                    if self._leadership.term != self._term:  # led by another copy meanwhile, perhaps
                        self._lost_leadership()
                        self._term = self._leadership.term
                    wait = max(wait, self._cycle())
                else:
                    self._lost_leadership()
                self._stopping.wait(wait)
        finally:
            self._leadership.close()
            self._publisher.close()

    def _cycle(self) -> float:
        """One search per source across every LOB; returns how long Infoplus asked us to wait (0 if it did not)."""
        self._retry_budget = self._settings.infoplus_poll_retry_budget_seconds
        try:
            if self._saved is None:
                self._saved = self._store.load()
            lobs = frozenset(connection.lob_id for connection in self._registry.all())
            for source in SOURCES if lobs else ():  # no connection, nothing to publish: no call
                self._poll(source, lobs)
            for task in self._tasks:
                task.run()
        except Retryable as error:  # the cycle's retry budget is spent: the next cycle resumes at the cursor
            log.warning("poll cycle cut short, the next one resumes at the saved cursors: %s", error.reason)
            return error.retry_after or 0.0
        except LeadershipLost:
            log.info("poll cycle stopped: another copy leads now")
            self._lost_leadership()
        except OutboundError as error:
            log.error("poll cycle failed: %s %s", error.reason, error.body)
        except BrokerUnavailable as error:
            log.warning("poll cycle cut short, Kafka unavailable: %s", error)
        return 0.0

    def _lost_leadership(self) -> None:
        self._saved = None  # a new leader must read what the previous one wrote
        for task in self._tasks:
            task.reset()

    def _poll(self, source: Source, lobs: frozenset[int]) -> None:
        cursor = self._cursor(source, lobs)
        page = 1
        while not self._stopping.is_set():
            self._check_leading()
            rows = self._search_page(source, cursor, page)
            self._publish(source, [row for row in rows if cursor.is_new(row)], lobs)
            advanced = cursor.advanced(rows)  # over every row read, connected or not: the next search starts past them
            if advanced != cursor:
                self._save(source, advanced)  # only after the events are acknowledged
            if len(rows) < SEARCH_PAGE_LIMIT:
                return
            # Keyset paging: the next page starts at the advanced cursor — unless the whole page shared the
            # cursor's own modifyDate (a bulk update): then the next page of that same instant.
            page = page + 1 if advanced.since == cursor.since else 1
            cursor = advanced

    def _check_leading(self) -> None:
        if not self._leadership.held():
            raise LeadershipLost()

    def _search_page(self, source: Source, cursor: Cursor, page: int) -> list[dict]:
        """One page; a 429 or 5xx is waited out (Retry-After, else a short back-off) and the same page asked again
        within this cycle — a throttled minute costs seconds, not whole intervals — until the cycle's retry budget
        is spent. Leadership is checked after each wait: a copy that lost it must not poll on."""
        attempt = 0
        while True:
            try:
                return self._infoplus.search(source.resource, source.filter(cursor.since), page=page,
                                             sort="modifyDate")
            except Retryable as error:
                attempt += 1
                wait = error.retry_after if error.retry_after is not None else \
                    min(MAX_RETRY_WAIT_SECONDS, 0.5 * 2 ** (attempt - 1))
                if wait > self._retry_budget or self._stopping.is_set():
                    raise
                self._retry_budget -= wait
                log.info("%s: %s; asking again in %.1f s", source.name, error.reason, wait)
                self._stopping.wait(wait)
                if not self._leadership.held():
                    raise LeadershipLost() from error

    def _cursor(self, source: Source, lobs: frozenset[int]) -> Cursor:
        saved = self._saved.get(cursor_key(source.name))
        if isinstance(saved, dict):
            return Cursor.from_dict(saved)
        return self._first_cursor(source, lobs)

    def _first_cursor(self, source: Source, lobs: frozenset[int]) -> Cursor:
        """A source without a cursor of its own starts at the oldest of the cursors per LOB an earlier version
        saved (poller/cursors.py), else a little in the past — once: saved at once, so an empty first answer does
        not let the starting point slide forward with the clock."""
        never_polled = iso_ago(self._settings.infoplus_poll_initial_lookback_seconds)
        cursor = upgraded(source.name, self._saved, lobs, never_polled)
        if cursor is None:
            cursor = Cursor(never_polled)
        else:
            log.info("%s: one cursor for every LOB now, starting at the oldest of the cursors per LOB: %s",
                     source.name, cursor.since)
        self._save(source, cursor)
        return cursor

    def _save(self, source: Source, cursor: Cursor) -> None:
        self._check_leading()  # a copy that lost leadership must not save an older cursor
        self._store.save(cursor_key(source.name), cursor.to_dict())
        self._saved[cursor_key(source.name)] = cursor.to_dict()

    def _publish(self, source: Source, rows: list[dict], lobs: frozenset[int]) -> None:
        events = []
        for row in _connected(source, rows, lobs):
            try:
                events.append(source.to_event(source.schema.load(row), row, EVENT_SOURCE))
            except ValidationError as error:  # e.g. a shipment without a tracking number yet: its next change is read
                log.warning("%s record %s not published: %s", source.name, row.get("id"), error.messages)
        if events and source.name == "shipments":
            attach_orders(self._infoplus, events)  # one page for the page of shipments instead of a GET each
        if events:
            self._publisher.publish_many(events[0][0], [(key, envelope) for _, key, envelope in events])
            log.info("published %d %s events", len(events), source.name)


def _connected(source: Source, rows: list[dict], lobs: frozenset[int]) -> list[dict]:
    """The rows of connected LOBs; the others (the API user sees every LOB of the 3PL) are counted, per LOB."""
    kept = []
    for row in rows:
        lob = _lob_of(row)
        if lob in lobs:
            kept.append(row)
        else:
            POLLER_UNCONNECTED_ROWS.labels(source.name, str(lob)).inc()
    if len(kept) < len(rows):
        log.debug("%d %s rows of LOBs without a connection not published", len(rows) - len(kept), source.name)
    return kept


def _lob_of(row: dict) -> int | None:
    try:
        return int(row.get("lobId"))
    except (TypeError, ValueError):
        return None
