"""Benchmark: signed Shopify order webhooks per second, and p50/p99 latency, against the bare-Flask ceiling.

Both apps run under gunicorn with config/gunicorn.py (same workers, threads), on this machine, in one run;
the load comes from wrk (installed from Debian if missing). cartbridge publishes every request to a real
local Kafka broker (acks=all) before answering 202.

    .venv/bin/python bench/webhooks.py [--seconds 10] [--connections 16]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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

SECRET = "bench-secret"
CONNECTIONS = f"""connections:
  - {{id: 101, name: Bench, platform: shopify, store_url: "http://127.0.0.1:9", lob_id: 10000,
      order_source_id: 55, warehouse_id: 1000, default_carrier_id: 1, webhook_secret: {SECRET},
      access_token: x, sync_orders: true}}
"""


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def wrk_script(workdir: Path) -> Path:
    body = json.dumps(shopify_order(order_id=1, skus=["SKU-1", "SKU-2"])).encode()
    headers = shopify_headers(body, SECRET, webhook_id="bench")
    lua = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lua += [f'wrk.headers["{name}"] = {json.dumps(value)}' for name, value in headers.items()]
    path = workdir / "post.lua"
    path.write_text("\n".join(lua) + "\n")
    return path


def start_gunicorn(app: str, port: int, env: dict) -> subprocess.Popen:
    command = [str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.py", app]
    process = subprocess.Popen(command, cwd=ROOT, env={**env, "PORT": str(port), "LOG_LEVEL": "warning"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn for {app} did not start")


def run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int) -> dict:
    out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    statuses = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": to_ms(latency["50"]), "p99_ms": to_ms(latency["99"]),
            "errors": int(statuses.group(1)) if statuses else 0}


def to_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "connections.yaml").write_text(CONNECTIONS)
        broker = Broker(workdir / "kafka")
        broker.start()
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC_PREFIX": "bench.",
               "CONNECTIONS_FILE": str(workdir / "connections.yaml")}
        servers = []
        try:
            results = {}
            for label, app in (("bare Flask 202 (ceiling)", "bench.bare_app:create_app()"),
                               ("cartbridge signed order -> Kafka", "webhooks:create_app()")):
                port = free_port()
                servers.append(start_gunicorn(app, port, env))
                url = f"http://127.0.0.1:{port}/webhooks/carts/101"
                run_wrk(wrk, url, wrk_script(workdir), 2, args.connections)  # warm-up: producers, topic metadata
                results[label] = run_wrk(wrk, url, wrk_script(workdir), args.seconds, args.connections)
            report(results, args)
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
            broker.stop()


def report(results: dict, args: argparse.Namespace) -> None:
    print(f"\nwebhook benchmark: {os.cpu_count()} cores, wrk -t2 -c{args.connections} -d{args.seconds}s, "
          f"gunicorn config/gunicorn.py")
    for label, r in results.items():
        print(f"  {label:36s} {r['rps']:9.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms"
              f"   non-2xx {r['errors']}")
    ceiling, ours = results.values()
    print(f"  cartbridge / ceiling: {100 * ours['rps'] / ceiling['rps']:.0f} %")


if __name__ == "__main__":
    main()
