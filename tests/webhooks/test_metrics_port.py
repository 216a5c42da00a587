"""With METRICS_PORT set, the web process serves /metrics there and not on its public port (issue 22, item 9):
`/metrics` lists connection ids and per-connection 401 counts, which are nobody's business on the internet."""
from __future__ import annotations

import json

import requests

from sandbox.sample import shopify_headers, shopify_order
from tests.support.kafka import free_port
from tests.support.metrics import scrape, value
from tests.support.processes import answers, gunicorn
from tests.support.world import eventually

ANSWERS = "cartbridge_webhook_requests_total"


def test_the_public_port_has_no_metrics_when_metrics_port_is_set(world):
    world.overrides["METRICS_PORT"] = str(free_port())
    assert requests.get(world.web_url + "/metrics", timeout=10).status_code == 404
    assert requests.get(world.web_url + "/healthz", timeout=10).status_code == 200


def test_gunicorn_serves_the_workers_sum_on_metrics_port(world, tmp_path):
    port, metrics_port = free_port(), free_port()
    env = {**world.environ(), "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2", "WEB_THREADS": "2",
           "METRICS_PORT": str(metrics_port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with gunicorn(env, tmp_path / "gunicorn.log", ready_within=60) as base:
        body = json.dumps(shopify_order(order_id=8301)).encode()
        for _ in range(4):
            answer = requests.post(base + "/webhooks/carts/101", data=body, timeout=10,
                                   headers={**shopify_headers(body, "wrong"), "Connection": "close"})
            assert answer.status_code == 401
        assert requests.get(base + "/metrics", timeout=10).status_code == 404
        text = eventually(lambda: answers(f"http://127.0.0.1:{metrics_port}/metrics")
                          and scrape(f"http://127.0.0.1:{metrics_port}/metrics"), 30, message="metrics port")
        assert value(text, ANSWERS, connection="101", status="401") == 4, text
