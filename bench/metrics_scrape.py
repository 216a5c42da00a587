"""Benchmark: what one Prometheus scrape costs with 100 connections' series.

- web: gunicorn (config/gunicorn.py, WEB_CONCURRENCY workers, multiprocess mode) with 100 Shopify connections,
  each of which has answered 202, 401 and 422 (so every worker holds ~300 counter series plus the histograms);
  then GET /metrics --scrapes times: median and p99, size and series.
- consumer: one process's registry (METRICS_PORT's /metrics) holding 100 connections x 6 outcome/reason
  series, lag for 3 partitions, outbound calls of 20 endpoints; generate_latest() timed the same way.

    .venv/bin/python bench/metrics_scrape.py [--connections 100] [--scrapes 50]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.sample import shopify_headers, shopify_order  # noqa: E402
from tests.support.kafka import Broker, free_port  # noqa: E402

SECRET = "bench-webhook-secret-0001"


def connections_file(count: int) -> str:
    lines = ["connections:"]
    for n in range(count):
        lines.append(f"  - {{id: {1000 + n}, name: Shop {n}, platform: shopify, store_url: 'http://127.0.0.1:9', "
                     f"lob_id: 10000, order_source_id: {n + 1}, warehouse_id: 1000, default_carrier_id: 1, "
                     f"webhook_secret: {SECRET}, access_token: x, sync_orders: true}}")
    return "\n".join(lines) + "\n"


def timed(get, scrapes: int) -> tuple[list[float], bytes]:
    get()  # warm
    times, body = [], b""
    for _ in range(scrapes):
        started = time.perf_counter()
        body = get()
        times.append((time.perf_counter() - started) * 1000)
    return times, body


def describe(label: str, times: list[float], body: bytes) -> None:
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)]
    print(f"  {label:44s} median {statistics.median(times):6.2f} ms   p99 {p99:6.2f} ms   "
          f"{len(body) / 1024:6.1f} KiB   {series} samples")


def web(args: argparse.Namespace, workdir: Path) -> None:
    (workdir / "connections.yaml").write_text(connections_file(args.connections))
    broker = Broker(workdir / "kafka")
    broker.start()
    port = free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC_PREFIX": "scrape.",
           "CONNECTIONS_FILE": str(workdir / "connections.yaml"), "PORT": str(port), "LOG_LEVEL": "warning"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.py"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for n in range(args.connections):
            body = json.dumps(shopify_order(order_id=n + 1)).encode()
            url = f"{base}/webhooks/carts/{1000 + n}"
            for secret in (SECRET, "wrong"):  # 202 and 401, over fresh connections so both workers see them
                requests.post(url, data=body, headers={**shopify_headers(body, secret), "Connection": "close"},
                              timeout=10)
            bad = b'{"id": 1}'
            requests.post(url, data=bad, headers={**shopify_headers(bad, SECRET), "Connection": "close"}, timeout=10)
        times, body = timed(lambda: requests.get(base + "/metrics", timeout=10).content, args.scrapes)
        workers = os.environ.get("WEB_CONCURRENCY", str(os.cpu_count()))
        describe(f"web /metrics ({workers} gunicorn workers, multiprocess)", times, body)
    finally:
        server.terminate()
        server.wait(timeout=30)
        broker.stop()


def consumer(args: argparse.Namespace) -> None:
    from prometheus_client import REGISTRY, generate_latest

    from metrics.families import CONSUMER_LAG, EVENTS, HANDLING_SECONDS, OUTBOUND_REQUESTS, OUTBOUND_SECONDS
    outcomes = [("done", ""), ("skipped", "sync_off"), ("skipped", "unpaid"), ("skipped", "stale"),
                ("dead_lettered", "http_422"), ("duplicate", "")]
    for n in range(args.connections):
        for outcome, reason in outcomes:
            EVENTS.labels("orders", str(1000 + n), outcome, reason).inc()
    for partition in range(3):
        CONSUMER_LAG.labels("cartbridge.orders", "cart.orders", str(partition)).set(5)
    for n in range(20):
        OUTBOUND_REQUESTS.labels("infoplus", f"endpoint{n}", "GET", "200").inc()
    HANDLING_SECONDS.labels("orders").observe(0.1)
    OUTBOUND_SECONDS.labels("infoplus").observe(0.1)
    times, body = timed(lambda: generate_latest(REGISTRY), args.scrapes)
    describe("consumer /metrics (one process, generate_latest)", times, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    print(f"\nscrape cost with {args.connections} connections' series, {args.scrapes} scrapes, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        web(args, Path(tmp))
    consumer(args)


if __name__ == "__main__":
    main()
