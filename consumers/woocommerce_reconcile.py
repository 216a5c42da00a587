"""`woo-reconcile`: finds WooCommerce orders whose webhook never arrived and publishes them to `cart.orders`.

WooCommerce never retries a failed delivery (and disables a webhook after repeated failures), so every
`WOOCOMMERCE_RECONCILE_SECONDS` (60 s) this process, for each WooCommerce connection:
1. lists the orders modified after its cursor (minus a small overlap) through
   `GET {store_url}/wp-json/wc/v3/orders?modified_after=…&dates_are_gmt=true` (Basic auth, paged by id);
2. turns each into exactly the event the webhook would have made (carts.woocommerce.deliveries.order_delivery:
   same event id for the same order version), and publishes the ones this process has not published yet —
   the orders consumer treats a webhook and a reconciliation event of one version as one;
3. saves the cursor — the newest `date_modified_gmt` listed, the store's own clock — on the compacted topic
   `woocommerce.reconcile.cursors` (events/cursors.py), only after Kafka acknowledged the events.
A failed pass (store 429/5xx/timeout, bad credentials, Kafka down) is logged; the cursor stays, so the next pass
covers the same ground. With no cursor yet, a connection starts one hour back: the store's older history is
never replayed into Infoplus. Run one copy (two are harmless, only wasteful); `--once` makes it a cron job.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from kafka.errors import KafkaError
from marshmallow import ValidationError

from carts.base import Delivery
from carts.woocommerce import PLATFORM
from carts.woocommerce.api import WooCommerceAPI
from carts.woocommerce.deliveries import order_delivery
from config.connections import ConnectionRegistry, RegistryError
from config.logs import configure_logging
from config.settings import Settings
from events import topics
from events.cursors import CursorStore
from events.envelopes import make_envelope
from events.publisher import BrokerUnavailable, Publisher
from metrics.server import serve_if_configured
from outbound.errors import OutboundError
from outbound.http import new_session
from schemas.connection import Connection
from schemas.order import parse_version, utc_iso

log = logging.getLogger("consumers.woocommerce_reconcile")

FIRST_RUN_LOOKBACK = timedelta(hours=1)
# Re-list a little before the cursor: an order saved in the same second as the newest one listed, or whose
# save committed while we paged, is not missed.
OVERLAP = timedelta(minutes=2)
REMEMBERED_EVENTS = 50_000


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Reconciler:
    def __init__(self, registry: ConnectionRegistry, publisher: Publisher, cursors: CursorStore, *,
                 timeout: tuple[float, float], clock: Callable[[], datetime] = _utc_now) -> None:
        self._registry = registry
        self._publisher = publisher
        self._cursors = cursors
        self._timeout = timeout
        self._clock = clock
        self._session = new_session()
        self._saved: dict[str, dict[str, Any]] | None = None  # loaded lazily, so a broker outage is retried
        self._published: OrderedDict[str, None] = OrderedDict()

    def run_once(self) -> int:
        """One pass over every WooCommerce connection; returns how many events were published."""
        total = 0
        for connection in self._registry.all():
            if connection.platform == PLATFORM.name:
                total += self._reconcile_safely(connection)
        return total

    def _reconcile_safely(self, connection: Connection) -> int:
        try:
            return self.reconcile(connection)
        except (OutboundError, BrokerUnavailable, KafkaError) as error:
            log.warning("reconciliation of connection %s failed, retried next pass: %s",
                        connection.id, getattr(error, "reason", error))
            return 0

    def close(self) -> None:
        self._publisher.close()

    def reconcile(self, connection: Connection) -> int:
        since = self._cursor(connection)
        api = WooCommerceAPI(connection, timeout=self._timeout, session=self._session)
        newest, published = since, 0
        for order in api.orders_modified_after(since - OVERLAP):
            delivery = self._delivery(connection, order)
            if delivery is None:
                continue
            newest = max(newest, parse_version(delivery.payload["updated_at"]))
            published += self._publish(connection, delivery, order)
        self._save_cursor(connection, newest)
        log.info("connection %s reconciled since %s: %d published, cursor %s",
                 connection.id, utc_iso(since), published, utc_iso(newest))
        return published

    def _delivery(self, connection: Connection, order: dict[str, Any]) -> Delivery | None:
        try:
            return order_delivery(order, {"via": "reconciliation"})
        except ValidationError as error:  # the webhook would have been refused (422) for the same reason
            log.warning("connection %s: WooCommerce order %s fails the order schema, not published: %s",
                        connection.id, order.get("id"), error.messages)
            return None

    def _publish(self, connection: Connection, delivery: Delivery, order: dict[str, Any]) -> int:
        envelope = make_envelope(event_type=delivery.event_type, source=PLATFORM.name, connection_id=connection.id,
                                 dedupe_key=delivery.dedupe_key, payload=delivery.payload, original=order,
                                 delivery=delivery.metadata)
        if envelope.event_id in self._published:
            return 0
        self._publisher.publish(topics.CART_ORDERS, f"{connection.id}:{delivery.entity_key}", envelope)
        self._remember(envelope.event_id)
        log.info("published event_id=%s connection=%s order=%s version=%s", envelope.event_id, connection.id,
                 delivery.entity_key, delivery.payload["updated_at"])
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
        value = {"modified_after": utc_iso(moment), "saved_at": utc_iso(self._clock())}
        self._cursors.save(_cursor_name(connection), value)
        self._saved[_cursor_name(connection)] = value


def _cursor_name(connection: Connection) -> str:
    return f"connection:{connection.id}"


def build(settings: Settings) -> Reconciler:
    registry = ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds)
    publisher = Publisher(settings)
    cursors = CursorStore(settings, topics.WOOCOMMERCE_RECONCILE_CURSORS, publisher)
    return Reconciler(registry, publisher, cursors, timeout=settings.http_timeout)


def run(reconciler: Reconciler, interval: float, stop: threading.Event, *, once: bool = False) -> None:
    """Pass after pass until `stop` is set (or one pass with `once`); every call has a timeout."""
    log.info("WooCommerce reconciliation %s", "once" if once else f"every {interval:.0f} s")
    while not stop.is_set():
        reconciler.run_once()
        if once:
            break
        stop.wait(interval)
    log.info("WooCommerce reconciliation stopped")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM / SIGINT: the pass in flight finishes, then the process exits."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m consumers.woocommerce_reconcile",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--once", action="store_true", help="one pass over every connection, then exit")
    once = parser.parse_args(argv).once
    configure_logging()
    settings = Settings.from_env()
    try:
        reconciler = build(settings)
    except RegistryError as error:
        raise SystemExit(f"cannot start: {error}") from None
    serve_if_configured(None if once else settings.metrics_port)  # a --once run from cron is over before a scrape
    stop = stop_on_signals()
    try:
        run(reconciler, 0 if once else settings.woocommerce_reconcile_seconds, stop, once=once)
    finally:
        reconciler.close()

if __name__ == "__main__":
    main()
