"""Benchmark: Infoplus change -> cart, through the poller (issue 6). Prints figures; asserts nothing.

1. latency — time from an item's Orderable Quantity changing in the Infoplus stand-in to the Shopify stand-in
   showing it (p50/p99), at the given poll interval (default: the production default, 30 s) and within the rate
   budget (INFOPLUS_CALLS_PER_SECOND, default 2); poller + inventory consumer run as real processes;
2. API cost — Infoplus calls the poller spends to publish 1,000 changed records (counted by the stand-in).

    .venv/bin/python bench/poller.py [--poll-seconds 30] [--changes 40] [--spread 90] [--bulk 1000]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from events import topics  # noqa: E402
from sandbox.infoplus import InfoplusStandIn  # noqa: E402
from sandbox.shopify import ShopifyStandIn  # noqa: E402
from tests.support.kafka import Broker, read_topic  # noqa: E402

LOB, API_KEY = 10000, "bench-key"


def connections(shopify: ShopifyStandIn) -> dict:
    return {"connections": [{
        "id": 101, "name": "Bench", "platform": "shopify", "store_url": shopify.base_url, "lob_id": LOB,
        "order_source_id": 55, "warehouse_id": 1000, "default_carrier_id": 1, "webhook_secret": "s",
        "access_token": shopify.access_token, "location_id": "gid://shopify/Location/1", "sync_inventory": True}]}


def start(module: str, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def watch(shopify: ShopifyStandIn, pending: dict, seen: dict, stop: threading.Event) -> None:
    """Note when each (sku -> value) first shows in the cart."""
    while not stop.is_set():
        for sku, (value, _) in list(pending.items()):
            if sku not in seen and shopify.available(sku) == value:
                seen[sku] = time.monotonic()
        time.sleep(0.05)


def measure_latency(infoplus, shopify, args) -> list[float]:
    skus = [f"LAT-{n}" for n in range(args.changes)]
    pending: dict[str, tuple[int, float]] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(shopify, pending, seen, stop), daemon=True)
    watcher.start()
    for sku in skus:  # spread the changes over the window so they land at every phase of the poll cycle
        time.sleep(args.spread / len(skus))
        value = random.randint(2, 999)  # never 1, the value before
        pending[sku] = (value, time.monotonic())
        infoplus.set_orderable(LOB, sku, value)
    deadline = time.monotonic() + args.poll_seconds * 3 + 60
    while len(seen) < len(skus) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    return [seen[sku] - pending[sku][1] for sku in skus if sku in seen]


def wait_for_initial_resync(shopify: ShopifyStandIn, args) -> float:
    """Sync Inventory is on at first sight, so the poller starts a full resync: wait until the cart shows it."""
    started = time.monotonic()
    while any(shopify.available(f"LAT-{n}") != 1 for n in range(args.changes)):
        if time.monotonic() - started > 300:
            raise SystemExit("the initial resync did not finish in 300 s")
        time.sleep(0.2)
    return time.monotonic() - started


def measure_api_cost(infoplus, bootstrap: str, prefix: str, args) -> tuple[int, float]:
    """Add `bulk` new items (each a changed record) and count the Infoplus calls until all are published."""
    before = infoplus.count("GET", r"item/search")
    started = time.monotonic()
    for n in range(args.bulk):
        infoplus.add_item(LOB, f"BULK-{n}", n + 1)
    records = read_topic(bootstrap, prefix + topics.INFOPLUS_INVENTORY, expect=args.bulk + args.changes,
                         timeout=args.poll_seconds * 2 + 120)
    bulk_seen = {r.key for r in records if b"BULK-" in r.key}
    calls = infoplus.count("GET", r"item/search") - before
    print(f"  bulk: {len(bulk_seen)} of {args.bulk} new items published within {time.monotonic() - started:.1f} s")
    return calls, 1000 * calls / max(1, len(bulk_seen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--spread", type=float, default=90.0, help="seconds over which the changes are made")
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--calls-per-second", type=float, default=2.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-poller-"))  # kept: the process logs are there
    print(f"logs in {workdir}")
    with InfoplusStandIn(api_key=API_KEY) as infoplus, ShopifyStandIn() as shopify:
        for n in range(args.changes):
            shopify.add_variant(f"LAT-{n}", quantity=0)
            infoplus.add_item(LOB, f"LAT-{n}", 1)
        (workdir / "connections.yaml").write_text(yaml.safe_dump(connections(shopify)))
        broker = Broker(workdir / "kafka")
        broker.start()
        prefix = "benchpoll."
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC_PREFIX": prefix,
               "CONNECTIONS_FILE": str(workdir / "connections.yaml"), "INFOPLUS_BASE_URL": infoplus.base_url,
               "INFOPLUS_API_KEY": API_KEY, "INFOPLUS_POLL_SECONDS": str(args.poll_seconds),
               "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "0", "INFOPLUS_CALLS_PER_SECOND": str(args.calls_per_second),
               "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
        processes = [start("poller", env, workdir / "poller.log"), start("consumers.inventory", env, workdir / "inv.log")]
        try:
            print(f"  initial resync ({args.changes} items) shown in the cart after {wait_for_initial_resync(shopify, args):.1f} s")
            latencies = measure_latency(infoplus, shopify, args)
            calls, per_thousand = measure_api_cost(infoplus, broker.bootstrap, prefix, args)
            report(latencies, calls, per_thousand, args)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            broker.stop()


def report(latencies: list[float], calls: int, per_thousand: float, args) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")
    print(f"\npoller benchmark: poll every {args.poll_seconds:.0f} s, {args.calls_per_second} Infoplus calls/s budget")
    print(f"  change -> cart latency over {len(latencies)}/{args.changes} changes: "
          f"p50 {statistics.median(ordered) if ordered else float('nan'):.1f} s   p99 {p99:.1f} s")
    print(f"  Infoplus calls for {args.bulk} changed items: {calls}  ({per_thousand:.1f} per 1,000 records)")


if __name__ == "__main__":
    main()
