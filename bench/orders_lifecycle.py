"""Benchmark: a burst of Shopify orders, each living its ordinary four-webhook life (orders/create and orders/paid
together, then two orders/updated), through `web` (gunicorn) and `orders` (a real process), against an Infoplus
stand-in that answers 429 above 3 requests/s. Prints figures; asserts nothing.

Figures: Infoplus calls per order, 429s, duplicates, and orders created per second as a share of the limit (one
call per order at 3/s is the ceiling: 1.00). With `--kill`, the orders consumer is SIGKILLed halfway and
restarted. Also the tracking side: Infoplus calls per pushed shipment.

    .venv/bin/python bench/orders_lifecycle.py [--orders 60] [--kill]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.infoplus import InfoplusStandIn  # noqa: E402
from sandbox.sample import infoplus_push_headers, shopify_headers, shopify_order  # noqa: E402
from sandbox.shopify import ShopifyStandIn  # noqa: E402
from tests.support.kafka import Broker, free_port  # noqa: E402

API_KEY, SECRET, PUSH_SECRET, LIMIT = "bench-key", "bench-secret", "whsec_YmVuY2gtcHVzaC1zZWNyZXQ=", 3


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


def run_orders(infoplus: InfoplusStandIn, web_url: str, env: dict, logs: Path, n: int, kill: bool) -> None:
    orders = start([sys.executable, "-m", "consumers.orders"], env, logs / "orders.log")
    wait_until(lambda: (logs / "orders.log").read_text().count("restored:") >= 3, 60)
    time.sleep(1.1)  # orders stamped in the store's first second are looked up first
    infoplus.clear_calls()
    throttled_before = infoplus.throttled
    ids = list(range(70_001, 70_001 + n))
    started = time.monotonic()
    for order_id in ids:
        for topic, body in lifecycle(order_id):
            post(web_url, topic, body)
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
    print(f"orders{' (SIGKILL halfway)' if kill else ''}: {n} orders x 4 webhooks in {elapsed:.1f} s: "
          f"{calls / n:.2f} Infoplus calls per order ({searches} searches), "
          f"{infoplus.throttled - throttled_before} answers of 429, "
          f"{sum(c - 1 for c in counts.values())} duplicates, {len(counts)} created; "
          f"{len(counts) / elapsed / LIMIT:.2f} of the limit ({len(counts) / elapsed:.2f} orders/s)")


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, InfoplusStandIn(api_key=API_KEY) as infoplus, \
            ShopifyStandIn() as shopify:
        logs = Path(tmp)
        broker = Broker(logs / "kafka")
        broker.start()
        try:
            infoplus.rate_limit(LIMIT)
            (logs / "connections.yaml").write_text(yaml.safe_dump(connections(shopify)))
            port = free_port()
            env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC_PREFIX": "bench.",
                   "CONNECTIONS_FILE": str(logs / "connections.yaml"), "INFOPLUS_BASE_URL": infoplus.base_url,
                   "INFOPLUS_API_KEY": API_KEY, "INFOPLUS_WEBHOOK_SECRET": PUSH_SECRET,
                   "INFOPLUS_CALLS_PER_SECOND": str(args.ceiling), "STATE_CLOCK_SKEW_SECONDS": "0", "PORT": str(port),
                   "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1"}
            web = start([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"], env, logs / "web.log")
            web_url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _serving(web_url), 30)
            try:
                run_orders(infoplus, web_url, env, logs, args.orders, args.kill)
                run_tracking(infoplus, shopify, web_url, env, logs, min(20, args.orders))
            finally:
                web.terminate()
                web.wait(timeout=30)
        finally:
            broker.stop()


def _serving(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=1).ok
    except requests.ConnectionError:
        return False


if __name__ == "__main__":
    main()
