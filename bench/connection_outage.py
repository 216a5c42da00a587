"""Benchmark: one connection's cart down while 19 others keep flowing (issue 21).

20 connections (10 Shopify, 10 WooCommerce, each its own store, LOB and order source); the WooCommerce connection 120
answers 503 to every call for the whole run. N shipments and N stock levels are spread evenly over all 20 and
published at a steady rate; a tracking and an inventory consumer (real processes) deliver them. Prints, not asserts:
- for the 19 healthy connections, the delay from publish to the effect showing in the cart (p50, p99, max), per
  flow and together — target p99 under 5 s with one connection down;
- how many calls reached the broken cart during the outage (parked events are not sent);
- after the broken cart recovers, the time until its last event landed.

Effects are seen by polling the stand-ins every 0.1 s (fulfillment present / order completed / stock shows the
level), so each delay carries up to 0.1 s of polling on top.

    .venv/bin/python bench/connection_outage.py [--events 200] [--rate 40] [--bootstrap 127.0.0.1:19092]
(without --bootstrap it starts a broker of its own for the run)
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from events import topics  # noqa: E402
from events.infoplus import inventory_event, shipment_event  # noqa: E402
from events.publisher import Publisher  # noqa: E402
from sandbox.infoplus import InfoplusStandIn  # noqa: E402
from sandbox.shopify import ShopifyStandIn  # noqa: E402
from sandbox.woocommerce import WooCommerceStandIn  # noqa: E402
from schemas.infoplus import InfoplusShipmentSchema, InventoryLevel  # noqa: E402
from tests.support.kafka import Broker  # noqa: E402

CONNECTIONS = 20
BROKEN = 120
T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
API_KEY = "bench-key"


class Fleet:
    """The stand-ins: a store of its own per connection (as each merchant has; Shopify's cost bucket is per store),
    Shopify for connections 101-110, WooCommerce for 111-120; 120 is the broken one."""

    def __init__(self) -> None:
        self.carts = {cid: (ShopifyStandIn() if cid <= 110 else WooCommerceStandIn()).start()
                      for cid in range(101, 101 + CONNECTIONS)}
        self.broken = self.carts[BROKEN]
        self.infoplus = InfoplusStandIn(api_key=API_KEY).start()

    def cart_of(self, connection_id: int):
        return self.carts[connection_id]

    def connection(self, connection_id: int) -> dict:
        cart = self.cart_of(connection_id)
        base = {"id": connection_id, "name": f"bench {connection_id}", "lob_id": lob(connection_id),
                "order_source_id": source(connection_id), "warehouse_id": 1000, "default_carrier_id": 1,
                "webhook_secret": "s", "sync_orders": False, "sync_inventory": True, "sync_tracking_data": True}
        if isinstance(cart, ShopifyStandIn):
            return {**base, "platform": "shopify", "store_url": cart.base_url, "access_token": cart.access_token,
                    "location_id": "gid://shopify/Location/1"}
        return {**base, "platform": "woocommerce", "store_url": cart.store_url, "consumer_key": cart.consumer_key,
                "consumer_secret": cart.consumer_secret}

    def stop(self) -> None:
        for standin in [*self.carts.values(), self.infoplus]:
            standin.stop()


def lob(connection_id: int) -> int:
    return 20_000 + connection_id


def source(connection_id: int) -> int:
    return 500 + connection_id


class Effect:
    """One event's expected effect in its cart, when it was published and when it was first seen there."""

    def __init__(self, flow: str, connection_id: int, check) -> None:
        self.flow, self.connection_id, self._check = flow, connection_id, check
        self.published: float | None = None
        self.landed: float | None = None

    def look(self, now: float) -> None:
        if self.landed is None and self.published is not None and self._check():
            self.landed = now


def prepare(fleet: Fleet, events: int, first: int = 0) -> tuple[list[Effect], list]:
    """Seed orders, cartons and products; return the effects and what to publish for each (in the same order)."""
    effects, messages = [], []
    schema = InfoplusShipmentSchema()
    for n in range(first, first + events):
        cid = 101 + n % CONNECTIONS
        cart = fleet.cart_of(cid)
        order_id, sku = 10_000 + n, f"C{cid}-SKU-{n}"
        if isinstance(cart, ShopifyStandIn):
            cart.add_order(order_id, [{"sku": "ITEM", "quantity": 1}])
            cart.add_variant(sku, quantity=0)
            shipped = (lambda c=cart, o=order_id: bool(c.fulfillments(o)))
            stocked = (lambda c=cart, s=sku, q=n + 1: c.available(s) == q)
        else:
            cart.add_order(order_id, line_items=[{"sku": "ITEM", "quantity": 1}])
            cart.add_product(sku, stock_quantity=0)
            shipped = (lambda c=cart, o=order_id: c.order(o)["status"] == "completed")
            stocked = (lambda c=cart, s=sku, q=n + 1: c.product(s)["stock_quantity"] == q)
        order = fleet.infoplus.add_order({
            "customerOrderNo": f"{cid}-{order_id}", "lobId": lob(cid), "orderSourceId": source(cid),
            "warehouseId": 1000, "lineItems": [{"lobId": lob(cid), "sku": "ITEM", "orderedQty": 1}]})
        carton = fleet.infoplus.add_shipment(order["orderNo"], f"1ZBENCH{n:06d}", "UPS")
        effects += [Effect("tracking", cid, shipped), Effect("inventory", cid, stocked)]
        level = InventoryLevel(lob(cid), sku, n + 1, False, (T0 + timedelta(seconds=n)).isoformat())
        messages += [shipment_event(schema.load(carton), carton, "bench"), inventory_event(level, None, "bench")]
    return effects, messages


def watch(effects: list[Effect], stop: threading.Event) -> None:
    while not stop.is_set():
        now = time.monotonic()
        for effect in effects:
            effect.look(now)
        stop.wait(0.1)


def wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summary(delays: list[float]) -> str:
    if not delays:
        return "nothing landed"
    return (f"p50 {statistics.median(delays):.2f} s, p99 {percentile(delays, 0.99):.2f} s, "
            f"max {max(delays):.2f} s ({len(delays)} events)")


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="N: shipments, and as many stock levels")
    parser.add_argument("--rate", type=float, default=40.0, help="events published per second (both flows)")
    parser.add_argument("--bootstrap", default=os.environ.get("CARTBRIDGE_TEST_KAFKA"),
                        help="a running broker (default: start one for the run)")
    parser.add_argument("--give-up", type=float, default=300.0,
                        help="seconds to wait for the healthy connections' events before reporting what landed")
    parser.add_argument("--logs", help="a directory for the consumers' logs (default: discarded)")
    parser.add_argument("--outage", choices=("503", "hang"), default="503",
                        help="how the broken cart fails: 503 to every call, or answers after 40 s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        broker = None
        if not args.bootstrap:
            broker = Broker(Path(workdir) / "kafka")
            broker.start()
        fleet = Fleet()
        try:
            run(args, args.bootstrap or broker.bootstrap, Path(workdir), fleet)
        finally:
            fleet.stop()
            if broker is not None:
                broker.stop()


def run(args: argparse.Namespace, bootstrap: str, workdir: Path, fleet: Fleet) -> None:
    connections = workdir / "connections.yaml"
    connections.write_text(yaml.safe_dump({"connections": [fleet.connection(101 + n) for n in range(CONNECTIONS)]}))
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:8]}.",
           "CONNECTIONS_FILE": str(connections), "LOG_LEVEL": "INFO" if args.logs else "WARNING",
           "INFOPLUS_BASE_URL": fleet.infoplus.base_url, "INFOPLUS_API_KEY": API_KEY,
           # The stand-in sets no limit: the delays measured are the broken cart's, not the Infoplus budget's.
           "INFOPLUS_CALLS_PER_SECOND": "1000", "INFOPLUS_SITE_CALLS_PER_SECOND": "1000"}
    settings = Settings.from_env(env)
    topics.ensure_topics(settings, [topics.INFOPLUS_INVENTORY, topics.INFOPLUS_SHIPMENTS])
    effects, messages = prepare(fleet, args.events)
    warm_up, warm_up_messages = prepare(fleet, 1, first=args.events * CONNECTIONS)  # connection 101, not counted
    if args.outage == "503":
        fleet.broken.fail_next(10**9, status=503)
    else:
        fleet.broken.delay(40)
    publisher = Publisher(settings)
    consumers = [subprocess.Popen([sys.executable, "-m", f"consumers.{kind}"], cwd=ROOT, env=env,
                                  stdout=log_file(args, kind), stderr=subprocess.STDOUT)
                 for kind in ("tracking", "inventory")]
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(effects, stop), daemon=True)
    try:
        publish_steadily(publisher, warm_up, warm_up_messages, args.rate)  # both consumers have joined their groups
        if not wait_for(lambda: [e.look(time.monotonic()) for e in warm_up] and all(e.landed for e in warm_up), 120):
            raise SystemExit("the consumers did not start within 120 s")
        watcher.start()
        publish_steadily(publisher, effects, messages, args.rate)
        report(args, fleet, effects)
    finally:
        stop.set()
        for consumer in consumers:
            consumer.terminate()
            consumer.wait(timeout=60)
        publisher.close()


def log_file(args: argparse.Namespace, kind: str):
    if not args.logs:
        return subprocess.DEVNULL
    Path(args.logs).mkdir(parents=True, exist_ok=True)
    return open(Path(args.logs) / f"{kind}.log", "w")


def publish_steadily(publisher: Publisher, effects: list[Effect], messages: list, rate: float) -> None:
    started = time.monotonic()
    for n, (effect, (topic, key, envelope)) in enumerate(zip(effects, messages)):
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
        publisher.publish_many(topic, [(key, envelope)])
        effect.published = time.monotonic()


def report(args: argparse.Namespace, fleet: Fleet, effects: list[Effect]) -> None:
    healthy = [e for e in effects if e.connection_id != BROKEN]
    broken = [e for e in effects if e.connection_id == BROKEN]
    landed = wait_for(lambda: all(e.landed for e in healthy), args.give_up)
    calls_during_outage = len(fleet.broken.calls) + fleet.broken.in_flight  # answered, and still hanging
    missing = sum(1 for e in healthy if not e.landed)
    print(f"{CONNECTIONS} connections, connection {BROKEN} down ({args.outage}); {args.events} shipments + "
          f"{args.events} levels published at {args.rate:g}/s" +
          ("" if landed else f"; {missing} healthy events NOT LANDED within {args.give_up:g} s"))
    for flow in ("tracking", "inventory"):
        print(f"  healthy {flow:<9} publish -> cart: "
              f"{summary([e.landed - e.published for e in healthy if e.flow == flow and e.landed])}")
    print(f"  healthy, both flows  publish -> cart: {summary([e.landed - e.published for e in healthy if e.landed])}")
    print(f"  calls that reached the broken cart during the outage: {calls_during_outage} "
          f"(its {len(broken)} events; {sum(1 for e in broken if e.landed)} landed)")
    fleet.broken.reset_faults()
    recovered = time.monotonic()
    if wait_for(lambda: all(e.landed for e in broken), 600):
        last = max(e.landed for e in broken)
        print(f"  broken connection: recovery -> its last event landed: {last - recovered:.1f} s")
    else:
        print(f"  broken connection: {sum(1 for e in broken if e.landed)} of {len(broken)} landed within 600 s")


if __name__ == "__main__":
    main()
