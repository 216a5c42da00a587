"""Benchmark: how many events one consumer process keeps in flight (issue 24).

    .venv/bin/python -m bench.concurrency tracking [--shipments 300] [--stores 8]
    .venv/bin/python -m bench.concurrency inventory [--levels 300]
    either with [--concurrency N] (else $CONSUMER_CONCURRENCY, else the engine's default)
                [--cart-latency 0.25] [--infoplus-latency 0.15] [--give-up SECONDS]

tracking: N Infoplus shipments (one carton each, shipped whole) of Shopify orders spread over --stores connections,
each its own store (Shopify's cost bucket is per store: a shipment costs about 20 of a store's 2,000 points, refilled
at 100/s, so one store would soon measure the bucket, not the engine; several connections also keep a per-connection
cap on events in flight from being the figure), all published at once to the shipments topic; ONE `tracking` process
delivers them.
inventory: N levels of distinct SKUs of one LOB, all published at once, fanned out to three carts (Shopify,
BigCommerce, WooCommerce; first touch, so SKU look-ups included); ONE `inventory` process delivers them. The newest
levels of a batch are written ahead in bulk calls (docs/inventory.md), so a level may cost well under one call a cart.

Every cart stand-in answers every call after --cart-latency seconds, the Infoplus stand-in after --infoplus-latency.
Figures: events/s from the first publish to the last effect seen in the stand-ins (polled every 0.1 s); cart and
Infoplus calls per event, counted at the stand-ins; effective concurrency = events/s x (cart calls x cart latency
+ Infoplus calls x Infoplus latency) per event: how many calls were waited on at once, on average — at most 1 for an
engine that handles one event at a time. Exits 1 when not every event landed within --give-up seconds.

The broker is the one at $CARTBRIDGE_TEST_KAFKA (topics under a prefix of their own), else a fresh one for the run.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # also runs as bench/concurrency.py, like the other benches

from bench.inventory import LOB, Cart, publish  # noqa: E402
from bench.orders_lifecycle import _broker, wait_until  # noqa: E402
from config.settings import Settings  # noqa: E402
from events import topics  # noqa: E402
from events.infoplus import shipment_event  # noqa: E402
from events.publisher import Publisher  # noqa: E402
from sandbox.infoplus import InfoplusStandIn  # noqa: E402
from schemas.infoplus import InfoplusShipmentSchema  # noqa: E402
from tests.support.processes import ServiceProcess  # noqa: E402

API_KEY = "bench-key"


class Shipments:
    """Shipments of Shopify orders, one order per shipment, dealt round the stores."""

    kind, unit, topic = "tracking", "shipments", topics.INFOPLUS_SHIPMENTS

    def __init__(self, infoplus: InfoplusStandIn, stores: int) -> None:
        self.infoplus = infoplus
        self.carts = [Cart("shopify", 101 + n) for n in range(stores)]
        self.prepared = 0
        self._schema = InfoplusShipmentSchema()

    def prepare(self, count: int) -> list:
        """Seed `count` more orders, in the cart and shipped in Infoplus; their shipment events."""
        events = []
        for n in range(self.prepared, self.prepared + count):
            cart, order_id = self.carts[n % len(self.carts)], 80_000 + n
            cart.standin.add_order(order_id, [{"sku": "ITEM", "quantity": 1}])
            order = self.infoplus.add_order({
                "customerOrderNo": f"{cart.connection_id}-{order_id}", "lobId": LOB, "orderSourceId": 1,
                "warehouseId": 1, "lineItems": [{"lobId": LOB, "sku": "ITEM", "orderedQty": 1}]})
            carton = self.infoplus.add_shipment(order["orderNo"], f"1ZBENCH{n:06d}", "UPS")
            _, key, envelope = shipment_event(self._schema.load(carton), carton, "bench")  # pushed: no order attached
            events.append((key, envelope))
        self.prepared += count
        return events

    def publish(self, publisher: Publisher, events: list) -> None:
        publisher.publish_many(self.topic, events)

    def landed(self) -> int:
        return sum(len(cart.standin.fulfillments()) for cart in self.carts)

    def where(self) -> str:
        return f"{len(self.carts)} Shopify store{'s' * (len(self.carts) != 1)}"


class Levels:
    """Stock levels of distinct SKUs of one LOB, each fanned out to a Shopify, a BigCommerce and a WooCommerce cart."""

    kind, unit, topic = "inventory", "levels", topics.INFOPLUS_INVENTORY

    def __init__(self, infoplus: InfoplusStandIn, stores: int) -> None:  # one LOB's three carts: `stores` is unused
        self.infoplus = infoplus  # only asked for switches kept in Infoplus: none here
        self.carts = [Cart(platform, 101 + n) for n, platform in enumerate(("shopify", "bigcommerce", "woocommerce"))]
        self.prepared = 0
        self._expected: dict[str, int] = {}

    def prepare(self, count: int) -> list:
        updates = [(f"LEVEL-{n:05d}", n + 1, 100) for n in range(self.prepared, self.prepared + count)]
        for cart in self.carts:
            for sku, _, _ in updates:
                cart.seed(sku)
        self._expected.update((sku, quantity) for sku, quantity, _ in updates)
        self.prepared += count
        return updates

    def publish(self, publisher: Publisher, updates: list) -> None:
        publish(publisher, updates)

    def landed(self) -> int:
        """SKUs whose level shows in every cart."""
        stocks = [cart.stocks(list(self._expected)) for cart in self.carts]
        return sum(1 for sku, quantity in self._expected.items() if all(s.get(sku) == quantity for s in stocks))

    def where(self) -> str:
        return ", ".join(cart.platform for cart in self.carts)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (stop the stand-ins, a broker) on SIGTERM too
    args = arguments()
    with tempfile.TemporaryDirectory() as tmp, InfoplusStandIn(api_key=API_KEY) as infoplus, \
            _broker(Path(tmp)) as bootstrap:
        flow = (Shipments if args.flow == "tracking" else Levels)(infoplus, args.stores)
        try:
            landed_all = run(args, flow, bootstrap, Path(tmp))
        finally:
            for cart in flow.carts:
                cart.standin.stop()
    sys.exit(0 if landed_all else 1)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow", choices=("tracking", "inventory"))
    parser.add_argument("--shipments", "--levels", dest="events", type=int, default=300, help="events to publish")
    parser.add_argument("--stores", type=int, default=8, help="tracking: Shopify connections, each its own store")
    parser.add_argument("--concurrency", default=os.environ.get("CONSUMER_CONCURRENCY"),
                        help="CONSUMER_CONCURRENCY for the consumer process (default: $CONSUMER_CONCURRENCY)")
    parser.add_argument("--cart-latency", type=float, default=0.25, help="seconds every cart call takes")
    parser.add_argument("--infoplus-latency", type=float, default=0.15, help="seconds every Infoplus call takes")
    parser.add_argument("--give-up", type=float, default=None,
                        help="seconds to wait for every event (default: 60 + 3 per event, 4x today's serial pace)")
    args = parser.parse_args()
    args.give_up = args.give_up or 60 + 3 * args.events
    return args


def run(args: argparse.Namespace, flow: Shipments | Levels, bootstrap: str, tmp: Path) -> bool:
    env = environment(args, flow, bootstrap, tmp)
    settings = Settings.from_env(env)
    topics.ensure_topics(settings, [flow.topic])
    for cart in flow.carts:
        cart.standin.delay(args.cart_latency)
    flow.infoplus.delay(args.infoplus_latency)
    publisher = Publisher(settings)
    consumer = ServiceProcess(f"consumers.{flow.kind}", env, tmp / f"{flow.kind}.log").start()
    try:
        flow.publish(publisher, flow.prepare(1))  # lands once the consumer has joined its group: not counted
        if not wait_until(lambda: flow.landed() == 1, 120):
            raise SystemExit(f"the {flow.kind} consumer did not deliver a first event within 120 s:\n"
                             f"{consumer.output()[-3000:]}")
        return measure(args, flow, publisher, consumer)
    finally:
        consumer.terminate(timeout=60)
        publisher.close()


def environment(args: argparse.Namespace, flow: Shipments | Levels, bootstrap: str, tmp: Path) -> dict[str, str]:
    connections = tmp / "connections.yaml"
    connections.write_text(yaml.safe_dump({"connections": [
        {**cart.connection(), "sync_tracking_data": True} for cart in flow.carts]}))
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:8]}.",
           "CONNECTIONS_FILE": str(connections), "INFOPLUS_BASE_URL": flow.infoplus.base_url,
           "INFOPLUS_API_KEY": API_KEY, "INFOPLUS_CALLS_PER_SECOND": "1000",  # the stand-in sets no limit:
           "INFOPLUS_SITE_CALLS_PER_SECOND": "1000",  # measure the engine, not the Infoplus budget
           "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    if args.concurrency:
        env["CONSUMER_CONCURRENCY"] = str(args.concurrency)
    return env


def measure(args: argparse.Namespace, flow: Shipments | Levels, publisher: Publisher,
            consumer: ServiceProcess) -> bool:
    events = flow.prepare(args.events)
    for standin in [flow.infoplus, *(cart.standin for cart in flow.carts)]:
        standin.clear_calls()
    started = time.monotonic()
    flow.publish(publisher, events)
    landed_all = wait_until(lambda: flow.landed() >= flow.prepared or not consumer.running(), args.give_up)
    elapsed = time.monotonic() - started
    landed_all = landed_all and flow.landed() >= flow.prepared
    if not consumer.running():
        print(f"the {flow.kind} consumer exited:\n{consumer.output()[-3000:]}")
    report(args, flow, elapsed, landed_all)
    return landed_all


def report(args: argparse.Namespace, flow: Shipments | Levels, elapsed: float, landed_all: bool) -> None:
    n, unit, one = args.events, flow.unit, flow.unit[:-1]
    print(f"{flow.kind}: {n} {unit} to {flow.where()} (cart {args.cart_latency * 1000:.0f} ms, Infoplus "
          f"{args.infoplus_latency * 1000:.0f} ms), one `{flow.kind}` process, CONSUMER_CONCURRENCY="
          f"{args.concurrency or 'unset (the engine default)'}; load average {os.getloadavg()[0]:.1f}")
    if not landed_all:  # a rate or calls per event with events still in flight would mislead
        print(f"  NOT ALL LANDED: {flow.landed() - 1} of {n} {unit} within {args.give_up:g} s")
        return
    by_platform: Counter[str] = Counter()
    for cart in flow.carts:
        by_platform[cart.platform] += len(cart.standin.calls) / n
    cart_calls, infoplus_calls = sum(by_platform.values()), len(flow.infoplus.calls) / n
    waiting = cart_calls * args.cart_latency + infoplus_calls * args.infoplus_latency
    shares = ", ".join(f"{platform} {calls:.2f}" for platform, calls in by_platform.items())
    print(f"  {n / elapsed:.2f} {unit}/s ({n} in {elapsed:.1f} s, first publish -> last effect seen in the stand-ins)")
    print(f"  calls per {one}: {cart_calls:.2f} cart ({shares}), {infoplus_calls:.2f} Infoplus -> {waiting:.2f} s "
          f"of waiting per {one}")
    print(f"  effective concurrency: {n / elapsed * waiting:.2f}")


if __name__ == "__main__":
    main()
