"""Webhook answers and their latency, read from the web process's /metrics as Prometheus would."""
from __future__ import annotations

import json
import os

import requests

from sandbox.sample import shopify_headers, shopify_order
from tests.support.kafka import free_port
from tests.support.metrics import scrape, value
from tests.support.processes import gunicorn
from tests.support.world import SHOPIFY_SECRET, eventually

ANSWERS = "cartbridge_webhook_requests_total"


def test_each_answer_counts_under_its_status_connection_and_platform(world):
    before = scrape(world.web_url + "/metrics")

    assert world.post_shopify_order(shopify_order(order_id=8101)).status_code == 202
    assert world.post_shopify_order(shopify_order(order_id=8102), secret="wrong").status_code == 401
    assert world.post_shopify_order(shopify_order(order_id=8103), secret="wrong").status_code == 401
    assert world.post_shopify_order(shopify_order(order_id=8104), connection_id=99999).status_code == 404

    after = scrape(world.web_url + "/metrics")

    def delta(**labels: str) -> float:
        return value(after, ANSWERS, **labels) - value(before, ANSWERS, **labels)

    assert delta(connection="101", platform="shopify", status="202") == 1
    assert delta(connection="101", platform="shopify", status="401") == 2
    assert delta(connection="unknown", status="404") == 1  # a made-up id never becomes a label value
    assert 'connection="99999"' not in after
    assert value(after, "cartbridge_webhook_request_duration_seconds_count", platform="shopify") >= 3
    assert SHOPIFY_SECRET not in after and world.shopify.access_token not in after
    assert "8101" not in after  # nothing of the payload


def test_several_gunicorn_workers_report_one_sum(world, tmp_path):
    """gunicorn with config/gunicorn.py and 2 workers: every scrape, whichever worker answers, has every count."""
    port = free_port()
    env = {**world.environ(), "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2", "WEB_THREADS": "2"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with gunicorn(env, tmp_path / "gunicorn.log", ready_within=30) as base:
        body = json.dumps(shopify_order(order_id=8201)).encode()
        for _ in range(10):  # new connections: gunicorn spreads them over both workers
            answer = requests.post(base + "/webhooks/carts/101", data=body, timeout=10,
                                   headers={**shopify_headers(body, "wrong"), "Connection": "close"})
            assert answer.status_code == 401
        for _ in range(6):
            text = scrape(base + "/metrics")
            assert value(text, ANSWERS, connection="101", status="401") == 10, text
    output = (tmp_path / "gunicorn.log").read_text()
    assert output.count("Booting worker") >= 2, output

