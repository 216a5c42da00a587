"""The `web` process (real gunicorn, two workers) survives a bad edit of the connections file: a worker that boots
while the file is bad starts with the last good registry; only a cold start with a bad file refuses to start."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandbox.sample import shopify_headers, shopify_order
from tests.support.kafka import ROOT, free_port
from tests.support.world import SHOPIFY_SECRET, eventually

BAD_FILE = "connections:\n  - id: 101\n    name: Acme Shopify\n    platform: shopify\n    lob_id: oops\n"


def gunicorn(world, workers: int) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {**world.environ(), "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": str(workers)}
    log_path = world.tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log_path


def worker_pids(master: int) -> set[int]:
    """The master's live children (gunicorn's workers), read from /proc."""
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master and fields[0] != "Z":
                children.add(int(entry.name))
    return children


def serving(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or a loaded machine answering slowly
        return False


def post_order(url: str, order_id: int) -> requests.Response:
    body = json.dumps(shopify_order(order_id)).encode()
    return requests.post(url + "/webhooks/carts/101", data=body, headers=shopify_headers(body, SHOPIFY_SECRET),
                         timeout=10)


@pytest.fixture
def web(world):
    process, url, log_path = gunicorn(world, workers=2)
    try:
        eventually(lambda: serving(url) and len(worker_pids(process.pid)) == 2, 30, message="gunicorn serving")
        yield process, url, log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_workers_killed_while_the_file_is_bad_come_back_with_the_last_good_registry(world, web):
    process, url, log_path = web
    assert post_order(url, 7001).status_code == 202

    world.connections_path.write_text(BAD_FILE)
    old_workers = worker_pids(process.pid)
    for pid in old_workers:  # every worker that serves from now on has booted while the file was bad
        os.kill(pid, signal.SIGKILL)
    eventually(lambda: len(worker_pids(process.pid) - old_workers) == 2, 30, message="two new workers")

    answers = [post_order(url, 7002 + n).status_code for n in range(6)]
    assert answers == [202] * 6, log_path.read_text()
    assert process.poll() is None
    assert "starting with the last good one" in log_path.read_text()


def test_a_cold_start_with_a_bad_file_refuses_to_start_and_says_why(world):
    world.connections_path.write_text(BAD_FILE)
    process, _, log_path = gunicorn(world, workers=2)
    assert process.wait(timeout=30) != 0
    assert "cannot start" in log_path.read_text() and "field 'lob_id'" in log_path.read_text()
