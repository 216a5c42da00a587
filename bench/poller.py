"""Benchmark: what the poller costs in Infoplus calls, and how fresh it keeps carts. Prints figures; asserts nothing.

`cycles` (issue 23) — Infoplus calls of one poll cycle at 10, 100 and 300 LOBs (one connection each), nothing
   changing and with 1,000 changed items spread over the LOBs: the poller's own cycle run in this process against
   the Infoplus stand-in (no limit) and a real broker, every call counted by the stand-in.

    .venv/bin/python bench/poller.py cycles [--lobs 10,100,300] [--changed 1000] [--quiet-cycles 5]

`latency` (issue 6) — time from an item's Orderable Quantity changing in the Infoplus stand-in to the Shopify
   stand-in showing it (p50/p99), at the given poll interval (default: the production default, 30 s) and within the
   rate budget (INFOPLUS_CALLS_PER_SECOND, default 2), poller + inventory consumer as real processes; then the
   Infoplus calls the poller spends to publish 1,000 changed records.

    .venv/bin/python bench/poller.py latency [--poll-seconds 30] [--changes 40] [--spread 90] [--bulk 1000]

Both use the broker at CARTBRIDGE_TEST_KAFKA (host:port) if set, else start one of their own.
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

from config.connections import ConnectionRegistry  # noqa: E402
from config.settings import Settings  # noqa: E402
from events import topics  # noqa: E402
from events.cursors import CursorStore  # noqa: E402
from events.publisher import Publisher  # noqa: E402
from infoplus.client import InfoplusClient  # noqa: E402
from poller.poller import CURSOR_TOPIC, Poller  # noqa: E402
from sandbox.infoplus import InfoplusStandIn  # noqa: E402
from sandbox.shopify import ShopifyStandIn  # noqa: E402
from tests.support.kafka import Broker, read_topic  # noqa: E402

LOB, API_KEY = 10000, "bench-key"
BUDGET = 2.9  # INFOPLUS_CALLS_PER_SECOND's default: a cycle's calls take at least calls / BUDGET seconds


# ---- cycles: Infoplus calls per poll cycle as LOBs are added ---------------------------------------------------
class Leading:
    """This process leads throughout: the cost of a cycle does not depend on how leadership was won."""
    term = 1
    rebuilds = 0

    def held(self) -> bool:
        return True

    def close(self) -> None:
        pass


def many_connections(lobs: int) -> dict:
    return {"connections": [{
        "id": 1000 + n, "name": f"Merchant {n}", "platform": "shopify", "store_url": f"https://m{n}.example",
        "lob_id": 20000 + n, "order_source_id": 55, "warehouse_id": 1000, "default_carrier_id": 1,
        "webhook_secret": "s", "access_token": "t", "location_id": "gid://shopify/Location/1"} for n in range(lobs)]}


def poller_on(infoplus: InfoplusStandIn, bootstrap: str, workdir: Path, lobs: int) -> tuple[Poller, Settings]:
    path = workdir / f"connections-{lobs}.yaml"
    path.write_text(yaml.safe_dump(many_connections(lobs)))
    settings = Settings.from_env({**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "CONNECTIONS_FILE": str(path),
                                  "KAFKA_TOPIC_PREFIX": f"benchcycles{lobs}.{int(time.time())}.",
                                  "INFOPLUS_BASE_URL": infoplus.base_url, "INFOPLUS_API_KEY": API_KEY,
                                  "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "0"})
    publisher = Publisher(settings)
    poller = Poller(settings=settings, registry=ConnectionRegistry(str(path)), publisher=publisher,
                    infoplus=InfoplusClient(infoplus.base_url, API_KEY, timeout=settings.http_timeout),
                    cursors=CursorStore(settings, CURSOR_TOPIC, publisher), leadership=Leading())
    return poller, settings


def calls_of_one_cycle(poller: Poller, infoplus: InfoplusStandIn) -> tuple[int, int]:
    """(every Infoplus call, the searches among them) of one whole cycle."""
    calls, searches = len(infoplus.calls), infoplus.count("GET", r"/search$")
    poller._cycle()
    return len(infoplus.calls) - calls, infoplus.count("GET", r"/search$") - searches


def measure_cycles_at(lobs: int, bootstrap: str, workdir: Path, args) -> dict:
    with InfoplusStandIn(api_key=API_KEY) as infoplus:
        poller, settings = poller_on(infoplus, bootstrap, workdir, lobs)
        poller._cycle()  # the first cycle fixes each source's starting point
        quiet = [calls_of_one_cycle(poller, infoplus) for _ in range(args.quiet_cycles)]
        for n in range(args.changed):  # spread over the LOBs, as a 3PL's day is
            infoplus.add_item(20000 + n % lobs, f"CHANGED-{n}", n + 1)
        started = time.monotonic()
        busy = calls_of_one_cycle(poller, infoplus)
        seconds = time.monotonic() - started
        published = read_topic(bootstrap, settings.topic(topics.INFOPLUS_INVENTORY), expect=args.changed, timeout=60)
    return {"lobs": lobs, "quiet": sum(c for c, _ in quiet) / len(quiet), "quiet_searches": max(s for _, s in quiet),
            "busy": busy[0], "busy_searches": busy[1], "published": len(published), "busy_seconds": seconds}


def run_cycles(bootstrap: str, workdir: Path, args) -> None:
    rows = [measure_cycles_at(int(lobs), bootstrap, workdir, args) for lobs in args.lobs.split(",")]
    print(f"\nInfoplus calls per poll cycle (stand-in without a limit; at {BUDGET} calls/s a call is "
          f"{1 / BUDGET:.2f} s of the key's budget)")
    print(f"{'LOBs':>6} {'nothing changing':>18} {'per LOB':>8} {'1,000 changed items':>21} {'published':>10}")
    for row in rows:
        print(f"{row['lobs']:>6} {row['quiet']:>18.2f} {row['quiet'] / row['lobs']:>8.3f} "
              f"{row['busy']:>21} {row['published']:>10}")
    print("(searches alone: nothing changing at most " + ", ".join(str(r["quiet_searches"]) for r in rows) +
          "; with the changes " + ", ".join(str(r["busy_searches"]) for r in rows) + ")")


# ---- latency: change -> cart through real processes ------------------------------------------------------------


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
    modes = parser.add_subparsers(dest="mode", required=True)
    cycles = modes.add_parser("cycles", help="Infoplus calls per cycle at 10, 100 and 300 LOBs")
    cycles.add_argument("--lobs", default="10,100,300")
    cycles.add_argument("--changed", type=int, default=1000)
    cycles.add_argument("--quiet-cycles", type=int, default=5)
    latency = modes.add_parser("latency", help="change -> cart latency, and the calls for 1,000 changes")
    latency.add_argument("--poll-seconds", type=float, default=30.0)
    latency.add_argument("--changes", type=int, default=40)
    latency.add_argument("--spread", type=float, default=90.0, help="seconds over which the changes are made")
    latency.add_argument("--bulk", type=int, default=1000)
    latency.add_argument("--calls-per-second", type=float, default=2.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-poller-"))  # kept: the process logs are there
    print(f"logs in {workdir}")
    broker = None if os.environ.get("CARTBRIDGE_TEST_KAFKA") else Broker(workdir / "kafka")
    if broker is not None:
        broker.start()
    bootstrap = os.environ.get("CARTBRIDGE_TEST_KAFKA") or broker.bootstrap
    try:
        run_cycles(bootstrap, workdir, args) if args.mode == "cycles" else run_latency(bootstrap, workdir, args)
    finally:
        if broker is not None:
            broker.stop()


def run_latency(bootstrap: str, workdir: Path, args) -> None:
    with InfoplusStandIn(api_key=API_KEY) as infoplus, ShopifyStandIn() as shopify:
        for n in range(args.changes):
            shopify.add_variant(f"LAT-{n}", quantity=0)
            infoplus.add_item(LOB, f"LAT-{n}", 1)
        (workdir / "connections.yaml").write_text(yaml.safe_dump(connections(shopify)))
        prefix = f"benchpoll{int(time.time())}."
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PREFIX": prefix,
               "CONNECTIONS_FILE": str(workdir / "connections.yaml"), "INFOPLUS_BASE_URL": infoplus.base_url,
               "INFOPLUS_API_KEY": API_KEY, "INFOPLUS_POLL_SECONDS": str(args.poll_seconds),
               "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "0", "INFOPLUS_CALLS_PER_SECOND": str(args.calls_per_second),
               "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
        processes = [start("poller", env, workdir / "poller.log"), start("consumers.inventory", env, workdir / "inv.log")]
        try:
            print(f"  initial resync ({args.changes} items) shown in the cart after {wait_for_initial_resync(shopify, args):.1f} s")
            latencies = measure_latency(infoplus, shopify, args)
            calls, per_thousand = measure_api_cost(infoplus, bootstrap, prefix, args)
            report(latencies, calls, per_thousand, args)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)


def report(latencies: list[float], calls: int, per_thousand: float, args) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")
    print(f"\npoller benchmark: poll every {args.poll_seconds:.0f} s, {args.calls_per_second} Infoplus calls/s budget")
    print(f"  change -> cart latency over {len(latencies)}/{args.changes} changes: "
          f"p50 {statistics.median(ordered) if ordered else float('nan'):.1f} s   p99 {p99:.1f} s")
    print(f"  Infoplus calls for {args.bulk} changed items: {calls}  ({per_thousand:.1f} per 1,000 records)")


if __name__ == "__main__":
    main()
