"""`fulfillment-sweep`: a lost Shopify fulfillment service callback, or requests left while Sync Orders was off.

Every `FULFILLMENT_SWEEP_SECONDS` (60 s), for each `fulfillment_service` connection with Sync Orders on, it asks
Shopify whether anything waits at the connection's location (FULFILLMENT_REQUESTED, CANCELLATION_REQUESTED; one
small query each) and, if so, publishes to `cart.orders` the very event the callback would have made (key
`<connection>:fulfillment-service`). The orders consumer then handles it as a callback; answering twice is
impossible (what it answered is no longer requested, and its state store records each answer). One copy is enough;
a second is harmless. `--once` for cron.
"""
from __future__ import annotations

import argparse
import logging
import os
import time

from carts.shopify.deliveries import FULFILLMENT_KEY, FULFILLMENT_REQUEST_EVENT
from carts.shopify.fulfillment_service import KINDS, ShopifyFulfillmentService
from config.connections import ConnectionRegistry, RegistryError
from config.logs import configure_logging
from config.settings import Settings
from consumers.order_polling import stop_on_signals
from events import topics
from events.envelopes import make_envelope
from events.publisher import Publisher
from metrics.server import serve_if_configured
from outbound.errors import OutboundError
from outbound.http import new_session

log = logging.getLogger(__name__)


def sweep_once(registry: ConnectionRegistry, publisher: Publisher, timeout: tuple[float, float], session) -> int:
    """One pass; returns how many events were published. Shopify errors are logged: the next pass retries."""
    published = 0
    for connection in registry.all():
        if not (connection.fulfillment_service and connection.sync_orders and connection.location_id):
            continue
        service = ShopifyFulfillmentService(connection, timeout=timeout, session=session)
        for kind, status in KINDS.items():
            try:
                waiting = service.waiting(status)
            except OutboundError as error:
                log.warning("sweep connection=%s %s: %s", connection.id, status, error)
                continue
            if not waiting:
                continue
            envelope = make_envelope(event_type=FULFILLMENT_REQUEST_EVENT, source="shopify",
                                     connection_id=connection.id, dedupe_key=f"sweep:{kind}:{time.time_ns()}",
                                     payload={"kind": kind}, original={"kind": kind}, delivery={"via": "sweep"})
            publisher.publish(topics.CART_ORDERS, f"{connection.id}:{FULFILLMENT_KEY}", envelope)
            log.info("sweep connection=%s: %s waiting, published event_id=%s", connection.id, status,
                     envelope.event_id)
            published += 1
    return published


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m consumers.fulfillment_sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--once", action="store_true", help="one pass over every connection, then exit")
    once = parser.parse_args(argv).once
    configure_logging()
    settings = Settings.from_env()
    interval = float(os.environ.get("FULFILLMENT_SWEEP_SECONDS", "60"))
    try:
        registry = ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds)
    except RegistryError as error:
        raise SystemExit(f"cannot start: {error}") from None
    publisher = Publisher(settings)
    session = new_session()
    serve_if_configured(None if once else settings.metrics_port)  # its outbound calls, like every loop process
    stop = stop_on_signals()
    log.info("fulfillment sweep %s", "once" if once else f"every {interval:.0f} s")
    try:
        while not stop.is_set():
            try:
                sweep_once(registry, publisher, settings.http_timeout, session)
            except Exception:  # Kafka down, a bug: logged, the next pass tries again
                log.exception("fulfillment sweep pass failed")
            if once:
                break
            stop.wait(interval)
    finally:
        publisher.close()
    log.info("fulfillment sweep stopped")


if __name__ == "__main__":
    main()
