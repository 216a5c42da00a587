"""Benchmark: signed Shopify order webhooks per second, and p50/p99 latency, against the bare-Flask ceiling.

Three apps run under gunicorn with config/gunicorn.py (same workers, threads), on this machine, in one run,
against one real local Kafka broker; the load comes from wrk (installed from Debian if missing):

- ceiling:     bare Flask, answers 202 and does nothing (bench/bare_app.py)
- Kafka floor: bare Flask that publishes the body once with cartbridge's Publisher (acks=all) before its 202
- cartbridge:  the real endpoint: HMAC, JSON, order schema, envelope, publish (acks=all), 202
- cartbridge with its Prometheus metrics off (METRICS_ENABLED=False): what the metrics cost

The apps take turns for --rounds rounds (the machine's speed drifts between runs); each row shows the median
round and the CPU spent per request by the app's workers and by the broker (from /proc).

    .venv/bin/python bench/webhooks.py [--seconds 10] [--connections 16] [--rounds 3]
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

SECRET = "bench-webhook-secret-0001"
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
        except requests.RequestException:  # not listening yet, or busy starting
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


APPS = {
    "bare Flask 202 (ceiling)": "bench.bare_app:create_app()",
    "bare Flask + Kafka publish (floor)": "bench.bare_app:create_publish_app()",
    "cartbridge signed order -> Kafka": "webhooks:create_app()",
    "cartbridge, metrics off": "webhooks:create_app({'METRICS_ENABLED': False})",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "connections.yaml").write_text(CONNECTIONS)
        script = wrk_script(workdir)
        broker = Broker(workdir / "kafka")
        broker.start()
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC_PREFIX": "bench.",
               "CONNECTIONS_FILE": str(workdir / "connections.yaml")}
        servers: dict[str, tuple[subprocess.Popen, str]] = {}
        try:
            for label, app in APPS.items():
                port = free_port()
                servers[label] = (start_gunicorn(app, port, env), f"http://127.0.0.1:{port}/webhooks/carts/101")
                run_wrk(wrk, servers[label][1], script, 2, args.connections)  # warm-up: producer, topic metadata
            broker_pid = int((workdir / "kafka/broker.pid").read_text())
            rounds: dict[str, list[dict]] = {label: [] for label in APPS}
            for _ in range(args.rounds):
                for label, (server, url) in servers.items():
                    rounds[label].append(measure(wrk, url, script, args, worker_pids(server.pid), broker_pid))
            report(rounds, args)
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)
            broker.stop()


def measure(wrk: str, url: str, script: Path, args: argparse.Namespace, workers: list[int], broker: int) -> dict:
    before = cpu_seconds(workers), cpu_seconds([broker])
    result = run_wrk(wrk, url, script, args.seconds, args.connections)
    after = cpu_seconds(workers), cpu_seconds([broker])
    requests_served = max(1.0, result["rps"] * args.seconds)
    result["app_us"] = (after[0] - before[0]) / requests_served * 1e6
    result["broker_us"] = (after[1] - before[1]) / requests_served * 1e6
    return result


def median_round(results: list[dict]) -> dict:
    return sorted(results, key=lambda r: r["rps"])[len(results) // 2]


def worker_pids(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (fields 14 and 15 of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def report(rounds: dict[str, list[dict]], args: argparse.Namespace) -> None:
    print(f"\nwebhook benchmark: {os.cpu_count()} cores, wrk -t2 -c{args.connections} -d{args.seconds}s, "
          f"gunicorn config/gunicorn.py, median of {args.rounds} rounds")
    ceiling = median_round(rounds["bare Flask 202 (ceiling)"])
    for label, results in rounds.items():
        r = median_round(results)
        print(f"  {label:36s} {r['rps']:7.0f} req/s ({100 * r['rps'] / ceiling['rps']:3.0f} %)"
              f"   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   non-2xx {r['errors']}"
              f"   CPU/request: app {r['app_us']:5.0f} us, broker {r['broker_us']:4.0f} us")
        each_round = " / ".join(f"{each['rps']:.0f}" for each in results)
        print(f"  {'':36s} rounds: {each_round} req/s")
    floor = median_round(rounds["bare Flask + Kafka publish (floor)"])
    ours = median_round(rounds["cartbridge signed order -> Kafka"])
    print(f"  (percentages are of the ceiling's median round; cartbridge is {100 * ours['rps'] / floor['rps']:.0f} %"
          f" of the Kafka floor)")
    off = median_round(rounds["cartbridge, metrics off"])
    paired = [on["rps"] / without["rps"] for on, without in zip(rounds["cartbridge signed order -> Kafka"],
                                                               rounds["cartbridge, metrics off"])]
    print(f"  metrics on vs off: {100 * ours['rps'] / off['rps']:.1f} % of the req/s (median rounds); "
          f"round by round {' / '.join(f'{100 * ratio:.0f} %' for ratio in paired)}")


if __name__ == "__main__":
    main()
