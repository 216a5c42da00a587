"""Benchmark: the inventory consumer against stand-in carts that answer every call in 50 ms.

Prints two figures (not a test; nothing is asserted):
1. throughput — inventory events/s one consumer process sustains, each event a different SKU fanned out to
   every connection of the LOB (cold: first touch, SKU lookups included; warm: lookups cached);
2. burst cost — cart write calls a burst of N updates spread over K SKUs costs (latest value wins), per cart.

A real local Kafka broker, the consumer as a real process (`python -m consumers.inventory`), real HTTP.

    .venv/bin/python bench/inventory.py [--events 1000] [--burst 1000] [--burst-skus 10] [--delay 0.05]
                                        [--platforms shopify,woocommerce,bigcommerce]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from events import topics  # noqa: E402
from events.infoplus import inventory_event  # noqa: E402
from events.publisher import Publisher  # noqa: E402
from sandbox.bigcommerce import BigCommerceStandIn  # noqa: E402
from sandbox.shopify import ShopifyStandIn  # noqa: E402
from sandbox.woocommerce import WooCommerceStandIn  # noqa: E402
from schemas.infoplus import InventoryLevel  # noqa: E402
from tests.support.kafka import Broker  # noqa: E402

LOB = 10000
T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)


class Cart:
    """One stand-in cart and how to read it back."""

    def __init__(self, platform: str, connection_id: int) -> None:
        self.platform, self.connection_id = platform, connection_id
        self.standin = {"shopify": ShopifyStandIn, "woocommerce": WooCommerceStandIn,
                        "bigcommerce": lambda: BigCommerceStandIn(quota=10**9)}[platform]().start()

    def seed(self, sku: str) -> None:
        {"shopify": lambda: self.standin.add_variant(sku, quantity=0),
         "woocommerce": lambda: self.standin.add_product(sku, stock_quantity=0),
         "bigcommerce": lambda: self.standin.add_variant(sku, quantity=0)}[self.platform]()

    def stocks(self, skus: list[str]) -> dict[str, int]:
        """Each SKU's stock, read the cheapest way each stand-in offers (the bench must not starve the consumer)."""
        if self.platform == "bigcommerce":
            return {sku: self.standin.inventory(sku) for sku in skus}
        if self.platform == "woocommerce":  # its state() deep-copies every product: ten times slower for 300 SKUs
            return {sku: (self.standin.product(sku) or {}).get("stock_quantity") for sku in skus}
        state = self.standin.state()
        items = {v["inventoryItemId"]: v["sku"] for v in state["variants"]}
        return {items[level["inventoryItemId"]]: level["available"] for level in state["inventoryLevels"]}

    def writes(self) -> int:
        if self.platform == "shopify":
            return sum(1 for c in self.standin.calls if "inventorySetQuantities" in (c.json or {}).get("query", ""))
        if self.platform == "woocommerce":  # one product each, or a batch of up to 100
            return self.standin.count("PUT") + self.standin.count("POST", r"/batch$")
        return self.standin.count("PUT", r"inventory/adjustments/absolute")

    def connection(self) -> dict:
        base = {"id": self.connection_id, "name": f"bench {self.platform}", "platform": self.platform,
                "lob_id": LOB, "order_source_id": 1, "warehouse_id": 1, "default_carrier_id": 1,
                "webhook_secret": "s", "sync_inventory": True}
        if self.platform == "shopify":
            return {**base, "store_url": self.standin.base_url, "access_token": self.standin.access_token,
                    "location_id": "gid://shopify/Location/1"}
        if self.platform == "woocommerce":
            return {**base, "store_url": self.standin.store_url, "consumer_key": self.standin.consumer_key,
                    "consumer_secret": self.standin.consumer_secret}
        return {**base, "store_hash": self.standin.store_hash, "api_base_url": self.standin.api_base_url,
                "access_token": self.standin.access_token, "location_id": "1"}


def publish(publisher: Publisher, updates: list[tuple[str, int, int]]) -> None:
    """(sku, quantity, version seconds) -> one event each, published together (acks=all)."""
    events = []
    for sku, quantity, version in updates:
        level = InventoryLevel(LOB, sku, quantity, False, (T0 + timedelta(seconds=version)).isoformat())
        _, key, envelope = inventory_event(level, None, "bench")
        events.append((key, envelope))
    publisher.publish_many(topics.INFOPLUS_INVENTORY, events)


def wait_until(check, timeout: float = 600.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.1)
    return time.monotonic() - started


def landed(carts: list[Cart], expected: dict[str, int]) -> bool:
    for cart in carts:
        stocks = cart.stocks(list(expected))
        if any(stocks.get(sku) != quantity for sku, quantity in expected.items()):
            return False
    return True


def throughput(publisher: Publisher, carts: list[Cart], skus: list[str], quantity: int, version: int) -> float:
    expected = {sku: quantity for sku in skus}
    started = time.monotonic()
    publish(publisher, [(sku, quantity, version) for sku in skus])
    wait_until(lambda: landed(carts, expected))
    return len(skus) / (time.monotonic() - started)


def burst_cost(publisher: Publisher, carts: list[Cart], skus: list[str], updates: int) -> tuple[dict, float]:
    before = {cart.platform: cart.writes() for cart in carts}
    plan = [(skus[n % len(skus)], 10_000 + n, 10_000 + n) for n in range(updates)]
    final = {sku: quantity for sku, quantity, _ in plan}
    started = time.monotonic()
    for start in range(0, len(plan), 10):  # acknowledged batches of 10, as pushes and a poller would send them
        publish(publisher, plan[start:start + 10])
    wait_until(lambda: landed(carts, final))
    elapsed = time.monotonic() - started
    time.sleep(1.0)  # anything still queued would show up in the counts
    return {cart.platform: cart.writes() - before[cart.platform] for cart in carts}, elapsed


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up (stop the broker) on SIGTERM too
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="distinct-SKU events for the throughput figure")
    parser.add_argument("--burst", type=int, default=1000, help="updates in the burst (N)")
    parser.add_argument("--burst-skus", type=int, default=10, help="SKUs the burst is spread over (K)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds every cart call takes")
    parser.add_argument("--platforms", default="shopify,woocommerce,bigcommerce")
    parser.add_argument("--log-level", default="WARNING", help="the consumer's LOG_LEVEL")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        broker = Broker(Path(workdir) / "kafka")
        broker.start()
        carts = [Cart(platform, 101 + n) for n, platform in enumerate(args.platforms.split(","))]
        try:
            run(args, broker.bootstrap, Path(workdir), carts)
        finally:
            for cart in carts:
                cart.standin.stop()
            broker.stop()


def run(args: argparse.Namespace, bootstrap: str, workdir: Path, carts: list[Cart]) -> None:
    skus = [f"BENCH-{n:05d}" for n in range(args.events)]
    burst_skus = [f"BURST-{n:03d}" for n in range(args.burst_skus)]
    for cart in carts:
        for sku in skus + burst_skus:
            cart.seed(sku)
        cart.standin.delay(args.delay)
    connections = workdir / "connections.yaml"
    connections.write_text(yaml.safe_dump({"connections": [cart.connection() for cart in carts]}))
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PREFIX": "bench.",
           "CONNECTIONS_FILE": str(connections), "LOG_LEVEL": args.log_level,
           # Only read for connections whose switches live in Infoplus (none here).
           "INFOPLUS_BASE_URL": "http://127.0.0.1:9", "INFOPLUS_API_KEY": "unused"}
    settings = Settings.from_env(env)
    topics.ensure_topics(settings, [topics.INFOPLUS_INVENTORY])
    publisher = Publisher(settings)
    consumer = subprocess.Popen([sys.executable, "-m", "consumers.inventory"], cwd=ROOT, env=env)
    try:
        publish(publisher, [(burst_skus[0], 1, 0)])  # the consumer has joined its group once this lands
        wait_until(lambda: landed(carts, {burst_skus[0]: 1}))
        report(args, carts, publisher, skus, burst_skus)
    finally:
        consumer.terminate()
        consumer.wait(timeout=60)
        publisher.close()


def report(args, carts: list[Cart], publisher: Publisher, skus: list[str], burst_skus: list[str]) -> None:
    names = "+".join(cart.platform for cart in carts)
    print(f"carts: {names} (one connection each, same LOB), every cart call takes {args.delay * 1000:.0f} ms")
    cold = throughput(publisher, carts, skus, 7, 100)
    warm = throughput(publisher, carts, skus, 8, 200)
    print(f"throughput, one consumer process: {cold:.1f} events/s cold (SKU lookups included), "
          f"{warm:.1f} events/s warm ({args.events} events, each a different SKU, fanned out to {len(carts)} carts)")
    writes, elapsed = burst_cost(publisher, carts, burst_skus, args.burst)
    per_cart = ", ".join(f"{platform} {n}" for platform, n in writes.items())
    print(f"burst of N={args.burst} updates over K={args.burst_skus} SKUs: cart writes per cart: {per_cart} "
          f"(without coalescing: {args.burst} each); all final values landed in {elapsed:.1f}s")


if __name__ == "__main__":
    main()
