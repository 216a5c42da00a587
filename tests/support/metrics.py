"""Reading Prometheus text the way a scraper does, and starting processes with METRICS_PORT."""
from __future__ import annotations

import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.kafka import free_port


def scrape(url: str, wait: float = 15.0) -> str:
    """GET the metrics text; a process that is still starting gets `wait` seconds to open its port and answer
    (a read timeout too: a gunicorn worker still booting on a loaded machine leaves the first request waiting)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            response = requests.get(url, timeout=5)
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    """The sum of every sample called `name` whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def samples(text: str, name: str) -> list[tuple[dict, float]]:
    return [(sample.labels, sample.value) for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def start_with_metrics(world, module: str):
    """Start `python -m module` serving /metrics on a free port; returns (process, base URL)."""
    port = free_port()
    world.overrides["METRICS_PORT"] = str(port)
    try:
        process = world.start_process(module)
    finally:
        del world.overrides["METRICS_PORT"]
    return process, f"http://127.0.0.1:{port}"
