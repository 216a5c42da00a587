"""Benchmark: a burst of Shopify orders, each living its ordinary four-webhook life (orders/create and orders/paid
together, then two orders/updated), through `web` (gunicorn) and `orders` (a real process), against an Infoplus
stand-in that answers 429 above 3 requests/s per API key (in any sliding second, or with `--window fixed` in each
second of the clock) and, with `--site-limit`, above that many for all keys together. Prints figures; asserts
nothing.

Figures: Infoplus calls per order, 429s, duplicates, calls per key, and orders created per second as a share of
the limit (one call per order at 3/s per key, or the site's limit if lower, is the ceiling: 1.00). With `--kill`,
the orders consumer is SIGKILLed halfway and restarted. Also the tracking side: Infoplus calls per pushed shipment.

    .venv/bin/python bench/orders_lifecycle.py [--orders 60] [--kill] [--keys 3 --site-limit 10] [--window fixed]

The broker is a fresh one of its own, or the one at $CARTBRIDGE_TEST_KAFKA (topics under a prefix of their own).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.infoplus import InfoplusStandIn  # noqa: E402
from sandbox.sample import infoplus_push_headers, shopify_headers, shopify_order  # noqa: E402
from sandbox.shopify import ShopifyStandIn  # noqa: E402
from tests.support.kafka import Broker, free_port  # noqa: E402

API_KEY, SECRET, PUSH_SECRET, LIMIT = "bench-key", "bench-webhook-secret-0001", "whsec_YmVuY2gtcHVzaC1zZWNyZXQ=", 3


def connections(shopify: ShopifyStandIn) -> dict:
    return {"connections": [{
        "id": 101, "name": "Bench", "platform": "shopify", "store_url": shopify.base_url, "lob_id": 10000,
        "order_source_id": 55, "warehouse_id": 1000, "default_carrier_id": 1, "webhook_secret": SECRET,
        "access_token": shopify.access_token, "location_id": "gid://shopify/Location/1", "sync_orders": True,
        "sync_tracking_data": True}]}


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def lifecycle(order_id: int) -> list[tuple[str, dict]]:
    created = datetime.now(timezone.utc)
    order = shopify_order(order_id=order_id)

    def version(seconds: int, **changes) -> dict:
        stamp = (created + timedelta(seconds=seconds)).isoformat(timespec="seconds")
        return {**order, "created_at": created.isoformat(timespec="seconds"), "updated_at": stamp, **changes}

    return [("orders/create", version(0)), ("orders/paid", version(1)), ("orders/updated", version(2, tags="vip")),
            ("orders/updated", version(3, note="gift"))]


def post(url: str, topic: str, body: dict) -> None:
    data = json.dumps(body).encode()
    response = requests.post(f"{url}/webhooks/carts/101", data=data, headers=shopify_headers(data, SECRET, topic=topic),
                             timeout=10)
    response.raise_for_status()


def wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def post_lifecycles(web_url: str, ids: list[int]) -> None:
    """Each order's webhooks in their order; several orders at once, as several carts' deliveries would come (one
    poster alone on a loaded machine could be slower than three keys drain)."""
    def post_one(order_id: int) -> None:
        for topic, body in lifecycle(order_id):
            post(web_url, topic, body)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(post_one, ids))


def run_orders(infoplus: InfoplusStandIn, web_url: str, env: dict, logs: Path, n: int, kill: bool,
               limit: float) -> None:
    orders = start([sys.executable, "-m", "consumers.orders"], env, logs / "orders.log")
    wait_until(lambda: (logs / "orders.log").read_text().count("restored:") >= 3, 60)
    time.sleep(1.1)  # orders stamped in the store's first second are looked up first
    infoplus.clear_calls()
    throttled_before = infoplus.throttled
    ids = list(range(70_001, 70_001 + n))
    started = time.monotonic()
    post_lifecycles(web_url, ids)
    posted = time.monotonic() - started
    if kill:
        wait_until(lambda: len(infoplus.orders) >= n // 2, 600)
        orders.kill()
        orders.wait()
        orders = start([sys.executable, "-m", "consumers.orders"], env, logs / "orders.log")
    wait_until(lambda: len(infoplus.orders) >= n, 900)
    elapsed = time.monotonic() - started
    time.sleep(3)  # the remaining events are handled; a duplicate would show now
    orders.terminate()
    orders.wait(timeout=30)
    counts = Counter(order["customerOrderNo"] for order in infoplus.orders)
    calls = sum(1 for call in infoplus.calls if call.status != 429)
    searches = sum(1 for call in infoplus.calls if call.path.endswith("order/search") and call.status != 429)
    by_key = Counter(key for _, key, status in infoplus.traffic if status != 429)
    print(f"orders{' (SIGKILL halfway)' if kill else ''}: {n} orders x 4 webhooks in {elapsed:.1f} s: "
          f"{calls / n:.2f} Infoplus calls per order ({searches} searches), "
          f"{infoplus.throttled - throttled_before} answers of 429, "
          f"{sum(c - 1 for c in counts.values())} duplicates, {len(counts)} created; "
          f"{len(counts) / elapsed / limit:.2f} of the limit ({len(counts) / elapsed:.2f} orders/s, limit "
          f"{limit:g}/s); calls per key {sorted(by_key.values(), reverse=True)}")
    print(f"  webhooks all posted after {posted:.1f} s; Infoplus answers per 5 s (429s in brackets): "
          f"{timeline(infoplus.traffic)}")


def timeline(traffic: list[tuple[float, str, int]]) -> str:
    if not traffic:
        return "-"
    start, slots = traffic[0][0], Counter()
    for at, _, status in traffic:
        slots[(int((at - start) // 5), status == 429)] += 1
    last = max(slot for slot, _ in slots)
    return " ".join(f"{slots[(slot, False)]}" + (f"[{slots[(slot, True)]}]" if slots[(slot, True)] else "")
                    for slot in range(last + 1))


def run_tracking(infoplus: InfoplusStandIn, shopify: ShopifyStandIn, web_url: str, env: dict, logs: Path,
                 n: int) -> None:
    tracking = start([sys.executable, "-m", "consumers.tracking"], env, logs / "tracking.log")
    time.sleep(3)
    shipments = []
    for order in infoplus.orders[:n]:
        cart_id = int(order["customerOrderNo"].split("-")[1])
        shopify.add_order(cart_id, [{"sku": line["sku"], "quantity": int(line["orderedQty"])}
                                    for line in order["lineItems"]])
        shipments.append(infoplus.add_shipment(order["orderNo"], f"1Z{cart_id}", "UPS"))
    infoplus.clear_calls()
    for shipment in shipments:
        body = json.dumps(shipment).encode()
        response = requests.post(f"{web_url}/webhooks/infoplus/shipments", data=body,
                                 headers=infoplus_push_headers(body, PUSH_SECRET), timeout=10)
        response.raise_for_status()
    done = wait_until(lambda: (logs / "tracking.log").read_text().count("done event_id=") >= len(shipments), 300)
    tracking.terminate()
    tracking.wait(timeout=30)
    calls = sum(1 for call in infoplus.calls if call.status != 429)
    print(f"tracking: {len(shipments)} pushed shipments: {calls / max(1, len(shipments)):.2f} Infoplus calls per "
          f"shipment{'' if done else ' (not all handled in time)'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--kill", action="store_true", help="SIGKILL the orders consumer halfway, then restart it")
    parser.add_argument("--ceiling", type=float, default=2.9,
                        help="INFOPLUS_CALLS_PER_SECOND: a hair under the limit, as network jitter can push calls "
                             "paced at exactly 3/s into one 1 s window")
    parser.add_argument("--keys", type=int, default=1, help="API keys (INFOPLUS_API_KEYS), each allowed --key-limit/s")
    parser.add_argument("--key-limit", type=int, default=LIMIT,
                        help="the stand-in's limit per key (with a high --ceiling: how fast the consumer itself is)")
    parser.add_argument("--site-limit", type=int, default=None, help="the stand-in's limit for all keys together")
    parser.add_argument("--window", choices=["sliding", "fixed"], default="sliding",
                        help="the stand-in's limiter: any sliding second, or each second of the clock")
    args = parser.parse_args()
    keys = [API_KEY] + [f"{API_KEY}-{n}" for n in range(2, args.keys + 1)]
    limit = min(args.key_limit * len(keys), args.site_limit or args.key_limit * len(keys))
    with tempfile.TemporaryDirectory() as tmp, InfoplusStandIn(api_key=API_KEY) as infoplus, \
            ShopifyStandIn() as shopify, _broker(Path(tmp)) as bootstrap:
        logs = Path(tmp)
        for key in keys[1:]:
            infoplus.add_api_key(key)
        infoplus.rate_limit(args.key_limit, window=args.window)
        infoplus.site_rate_limit(args.site_limit, window=args.window)
        (logs / "connections.yaml").write_text(yaml.safe_dump(connections(shopify)))
        port = free_port()
        prefix = f"bench{uuid.uuid4().hex[:8]}."  # the broker may be shared
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PREFIX": prefix,
               "CONNECTIONS_FILE": str(logs / "connections.yaml"), "INFOPLUS_BASE_URL": infoplus.base_url,
               "INFOPLUS_API_KEY": keys[0], "INFOPLUS_API_KEYS": ",".join(keys[1:]),  # the first alone works too
               "INFOPLUS_WEBHOOK_SECRET": PUSH_SECRET,
               "INFOPLUS_CALLS_PER_SECOND": str(args.ceiling), "STATE_CLOCK_SKEW_SECONDS": "0", "PORT": str(port),
               "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1"}
        print(f"{len(keys)} API key(s) at {args.key_limit}/s each, site limit {args.site_limit or 'none'}, {args.window} "
              f"windows; load average {os.getloadavg()[0]:.1f}")
        web = start([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"], env, logs / "web.log")
        web_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _serving(web_url), 30)
        try:
            run_orders(infoplus, web_url, env, logs, args.orders, args.kill, limit)
            run_tracking(infoplus, shopify, web_url, env, logs, min(20, args.orders))
        finally:
            web.terminate()
            web.wait(timeout=30)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


@contextlib.contextmanager
def _broker(tmp: Path) -> Iterator[str]:
    """The broker at $CARTBRIDGE_TEST_KAFKA when set (a shared one), else a fresh one for this run."""
    if os.environ.get("CARTBRIDGE_TEST_KAFKA"):
        yield os.environ["CARTBRIDGE_TEST_KAFKA"]
        return
    broker = Broker(tmp / "kafka")
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def _serving(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=1).ok
    except requests.RequestException:  # not up yet, or slow to answer on a loaded machine
        return False


if __name__ == "__main__":
    main()
