"""Polling a cart for changed orders since a durable cursor, for carts whose webhooks cannot be relied on
(WooCommerce never retries one) or that have none (Magento Open Source). Each platform's entry point
(consumers/woocommerce_reconcile.py, consumers/magento_orders.py) supplies a `PolledOrders`; this module does
the rest, the same way for every platform. Every interval, for each connection of the platform:
1. list the orders changed after its cursor minus OVERLAP (the platform's list call, paged by the platform);
2. turn each into exactly the `cart.order` event the platform's webhook would have made — the same event id for
   the same order version — and publish the ones this process has not published yet (Kafka key
   `<connection id>:<cart order id>`, acks=all); an order that fails the schema is logged and left out;
3. save the cursor — the newest `updated_at` listed, the store's own clock — on the platform's compacted cursor
   topic (events/cursors.py), only after Kafka acknowledged the events.
A failed pass (store 429/5xx/timeout, refused credentials, Kafka down) is logged; the cursor stays, so the next
pass covers the same ground. So is an answer that is not a list of orders (a 200 with HTML, an object instead of
a list, rows that are not objects): one line, counted per connection (`bad_answers`), and the pass goes on to the
next connection — one merchant's broken store never stops the others. With no cursor yet, a connection starts
FIRST_RUN_LOOKBACK back: the store's older history is never replayed into Infoplus. One copy is enough (two are
harmless, only wasteful); `--once` makes it a cron job.

Every read of a store goes through its connection's circuit (consumers/circuits.py, flow `PolledOrders.flow`): a
store failing 429/5xx/timeouts opens it (at once on a timeout, a refused connection or a Retry-After; after 3 failed
answers otherwise), and while it is open the store is skipped, not called, until its back-off is over (from 1 s,
doubling up to CONNECTION_RETRY_MAX_SECONDS; at least 3 read timeouts after a timeout): a hanging store holds up
the other stores' polling for one read timeout now and then, not one every pass. Each connection's health goes
where the consumers' does (consumers/health.py: the ops console and `cartbridge-status`; and
`cartbridge_connection_circuit_open`). Circuits are memory only: a restart, or a `--once` run, starts them closed.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator

import requests
from kafka.errors import KafkaError
from marshmallow import ValidationError

from carts.base import Delivery
from config.connections import ConnectionRegistry, RegistryError
from config.logs import configure_logging
from config.settings import Settings
from consumers.circuits import NO_CIRCUITS, Circuits, ConnectionHealth, ConnectionWaiting, health_report
from consumers.health import HealthBroadcast
from events import topics
from events.cursors import CursorStore
from events.envelopes import make_envelope
from events.publisher import BrokerUnavailable, Publisher
from metrics.families import CONNECTION_CIRCUIT_OPEN, ORDER_POLL_BAD_ANSWERS
from metrics.server import serve_if_configured
from outbound.errors import OutboundError
from outbound.http import new_session
from schemas.connection import Connection
from schemas.order import parse_version, utc_iso

FIRST_RUN_LOOKBACK = timedelta(hours=1)
# Re-list a little before the cursor: an order saved in the same second as the newest one listed, or whose save
# committed while we paged (its timestamp is older than orders already listed), is not missed.
OVERLAP = timedelta(minutes=2)
REMEMBERED_EVENTS = 50_000

# (connection, changed after, timeout, session) -> the cart's raw orders, every page
ListChanged = Callable[[Connection, datetime, tuple[float, float], requests.Session], Iterable[dict[str, Any]]]
_LISTED_ALL = object()


class BadAnswer(Exception):
    """The store answered, but not with a list of orders."""


@dataclass(frozen=True)
class PolledOrders:
    """What polling needs from one platform."""

    platform: str  # the connections polled: `platform: <this>`
    flow: str  # its circuits' name for ops (health records, metrics), e.g. "magento_polling"
    title: str  # for logs, e.g. "WooCommerce reconciliation"
    cursor_topic: str  # compacted, one record per connection (events/topics.py)
    via: str  # the events' `delivery.via`, e.g. "reconciliation"
    list_changed: ListChanged
    delivery: Callable[[Any, dict[str, Any]], Delivery]  # the webhook's own event builder; raises ValidationError


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class OrderPoller:
    def __init__(self, polled: PolledOrders, registry: ConnectionRegistry, publisher: Publisher,
                 cursors: CursorStore, *, timeout: tuple[float, float],
                 clock: Callable[[], datetime] = _utc_now, circuits: Circuits = NO_CIRCUITS,
                 tell_ops: Callable[[list[ConnectionHealth]], None] = lambda report: None) -> None:
        self._polled = polled
        self._circuits = circuits  # per connection: a failing store is skipped until its back-off is over
        self._tell_ops = tell_ops  # after every pass: each connection's health (consumers/health.py)
        self._registry = registry
        self._publisher = publisher
        self._cursors = cursors
        self._timeout = timeout
        self._clock = clock
        self._session = new_session()
        self._log = logging.getLogger(f"{__name__}.{polled.platform}")
        self._saved: dict[str, dict[str, Any]] | None = None  # loaded lazily, so a broker outage is retried
        self._published: OrderedDict[str, None] = OrderedDict()
        self.bad_answers: Counter[int] = Counter()  # connection id -> passes whose answer was not understood

    @property
    def title(self) -> str:
        return self._polled.title

    def run_once(self) -> int:
        """One pass over every connection of the platform; returns how many events were published."""
        total = 0
        for connection in self._registry.all():
            if connection.platform == self._polled.platform:
                total += self._poll_safely(connection)
        self._report_health()
        return total

    def _report_health(self) -> None:
        if isinstance(self._circuits, Circuits):  # not NO_CIRCUITS (a poller built without them: nothing to tell)
            self._tell_ops(health_report(self._circuits, {}, {}))

    def _poll_safely(self, connection: Connection) -> int:
        try:
            return self.poll(connection)
        except ConnectionWaiting as waiting:
            self._store_waited_for(connection, waiting)
            return 0
        except (OutboundError, BrokerUnavailable, KafkaError) as error:
            self._log.warning("%s of connection %s failed, retried next pass: %s", self._polled.title,
                              connection.id, getattr(error, "reason", error))
            return 0
        except (BadAnswer, ValueError, TypeError, AttributeError, KeyError) as error:
            self.bad_answers[connection.id] += 1
            ORDER_POLL_BAD_ANSWERS.labels(self._polled.platform, str(connection.id)).inc()
            self._log.warning("%s of connection %s failed, retried next pass: the store's answer was not understood "
                              "(%s: %s)", self._polled.title, connection.id, error.__class__.__name__,
                              str(error)[:200])
            return 0

    def _store_waited_for(self, connection: Connection, waiting: ConnectionWaiting) -> None:
        """The store failed now (the cause is the failed call), or its circuit is open and it was not called."""
        wait = max(0.0, waiting.due_at - time.time())
        if waiting.__cause__ is not None:
            self._log.warning("%s of connection %s failed, its store is asked again in %.0f s at the earliest: %s",
                              self._polled.title, connection.id, wait, waiting.reason)
        else:
            self._log.info("%s of connection %s skipped: its store has been failing since %s, next try in %.0f s",
                           self._polled.title, connection.id, utc_iso(datetime.fromtimestamp(
                               waiting.failing_since, timezone.utc)), wait)

    def close(self) -> None:
        self._publisher.close()

    def poll(self, connection: Connection) -> int:
        since = self._cursor(connection)
        newest, published = since, 0
        for order in self._listed(connection, since - OVERLAP):
            if not isinstance(order, dict):
                raise BadAnswer(f"a listed order is {type(order).__name__}, not an object")
            delivery = self._delivery(connection, order)
            if delivery is None:
                continue
            newest = max(newest, parse_version(delivery.payload["updated_at"]))
            published += self._publish(connection, delivery, order)
        self._save_cursor(connection, newest)
        self._log.info("%s: connection %s since %s: %d published, cursor %s", self._polled.title, connection.id,
                       utc_iso(since), published, utc_iso(newest))
        return published

    def _listed(self, connection: Connection, since: datetime) -> Iterator[Any]:
        """The store's changed orders, each step of the listing (each page's read) through the connection's
        circuit — and only the store's reads: a Kafka failure while publishing is nobody's store's fault."""
        orders = iter(self._polled.list_changed(connection, since, self._timeout, self._session))
        while True:
            with self._circuits.calling(connection.id):
                order = next(orders, _LISTED_ALL)
            if order is _LISTED_ALL:
                return
            yield order

    def _delivery(self, connection: Connection, order: dict[str, Any]) -> Delivery | None:
        try:
            return self._polled.delivery(order, {"via": self._polled.via})
        except ValidationError as error:  # a webhook would have been refused (422) for the same reason
            self._log.warning("connection %s: %s order %s fails the order schema, not published: %s",
                              connection.id, self._polled.platform, order.get("id", order.get("entity_id")),
                              error.messages)
            return None

    def _publish(self, connection: Connection, delivery: Delivery, order: dict[str, Any]) -> int:
        envelope = make_envelope(event_type=delivery.event_type, source=self._polled.platform,
                                 connection_id=connection.id, dedupe_key=delivery.dedupe_key,
                                 payload=delivery.payload, original=order, delivery=delivery.metadata)
        if envelope.event_id in self._published:
            return 0
        self._publisher.publish(topics.CART_ORDERS, f"{connection.id}:{delivery.entity_key}", envelope)
        self._remember(envelope.event_id)
        self._log.info("published event_id=%s connection=%s order=%s version=%s", envelope.event_id,
                       connection.id, delivery.entity_key, delivery.payload["updated_at"])
        return 1

    def _remember(self, event_id: str) -> None:
        self._published[event_id] = None
        if len(self._published) > REMEMBERED_EVENTS:
            self._published.popitem(last=False)

    # -- the cursor ------------------------------------------------------------------------------------------
    def _cursor(self, connection: Connection) -> datetime:
        if self._saved is None:
            self._saved = self._cursors.load()
        saved = self._saved.get(_cursor_name(connection))
        if saved:
            return parse_version(saved["modified_after"])
        start = self._clock() - FIRST_RUN_LOOKBACK
        self._save_cursor(connection, start)  # so a restart does not move the starting point forward
        return start

    def _save_cursor(self, connection: Connection, moment: datetime) -> None:
        # `modified_after` for every platform: WooCommerce's records were written under that name first.
        value = {"modified_after": utc_iso(moment), "saved_at": utc_iso(self._clock())}
        self._cursors.save(_cursor_name(connection), value)
        self._saved[_cursor_name(connection)] = value


def _cursor_name(connection: Connection) -> str:
    return f"connection:{connection.id}"


def build(polled: PolledOrders, settings: Settings) -> OrderPoller:
    registry = ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds)
    publisher = Publisher(settings)
    cursors = CursorStore(settings, polled.cursor_topic, publisher)
    return OrderPoller(polled, registry, publisher, cursors, timeout=settings.http_timeout,
                       circuits=Circuits.from_settings(polled.flow, settings),
                       tell_ops=_ops_told(polled, settings, publisher))


def _ops_told(polled: PolledOrders, settings: Settings, publisher: Publisher
              ) -> Callable[[list[ConnectionHealth]], None]:
    """Each connection's health, where the consumers put theirs: the health topic (the ops console,
    `cartbridge-status`) and `cartbridge_connection_circuit_open` (no events are parked here: nothing waits)."""
    broadcast = HealthBroadcast(settings, publisher, f"cartbridge-{polled.flow}-{socket.gethostname()}-{os.getpid()}")

    def tell(report: list[ConnectionHealth]) -> None:
        for row in report:
            CONNECTION_CIRCUIT_OPEN.labels(row.flow, str(row.connection_id)).set(1 if row.failing else 0)
        broadcast.send(report)
    return tell


def run(poller: OrderPoller, interval: float, stop: threading.Event, *, once: bool = False) -> None:
    """Pass after pass until `stop` is set (or one pass with `once`); every call has a timeout."""
    log = logging.getLogger(__name__)
    log.info("%s %s", poller.title, "once" if once else f"every {interval:.0f} s")
    while not stop.is_set():
        poller.run_once()
        if once:
            break
        stop.wait(interval)
    log.info("%s stopped", poller.title)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM / SIGINT: the pass in flight finishes, then the process exits."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main(polled: PolledOrders, interval: Callable[[Settings], float], prog: str, description: str,
         argv: list[str] | None = None) -> None:
    """The whole process: `--once` for cron, else a pass every `interval(settings)` seconds until SIGTERM."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--once", action="store_true", help="one pass over every connection, then exit")
    once = parser.parse_args(argv).once
    configure_logging()
    settings = Settings.from_env()
    try:
        poller = build(polled, settings)
    except RegistryError as error:
        raise SystemExit(f"cannot start: {error}") from None
    serve_if_configured(None if once else settings.metrics_port)  # a --once run from cron is over before a scrape
    stop = stop_on_signals()
    try:
        run(poller, 0 if once else interval(settings), stop, once=once)
    finally:
        poller.close()
