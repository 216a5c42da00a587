"""The web tier's metrics: one count per webhook answer (connection, platform, status) and its latency.

gunicorn runs several worker processes: prometheus_client's multiprocess mode keeps each worker's values in
files under PROMETHEUS_MULTIPROC_DIR (metrics/multiproc.py, called by config/gunicorn.py's hooks) and `/metrics`
adds them up, so whichever worker answers the scrape reports the whole tier.
"""
from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from metrics.families import WEBHOOK_REQUESTS, WEBHOOK_SECONDS
from metrics.multiproc import MULTIPROC_ENV
from metrics.server import workers_sum

_STARTED = "cartbridge.metrics_started"


def init_app(app: Flask, registry, *, serve: bool = True) -> None:
    """Count every answer under /webhooks/ and, with `serve`, serve GET /metrics. `registry` tells a known
    connection from a made-up id in the URL: only known ids become label values, so no caller can grow the series.
    `serve` is false when METRICS_PORT is set: the public port must not list connection ids and their 401 counts;
    config/gunicorn.py's master serves them on METRICS_PORT instead."""

    counters: dict[tuple[str, str, int], Any] = {}  # label children, looked up once (labels() takes a lock)
    timers: dict[str, Any] = {}

    @app.before_request
    def _start_clock() -> None:
        request.environ[_STARTED] = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        if request.path.startswith("/webhooks/"):
            connection, platform = _labels(registry)
            key = (connection, platform, response.status_code)
            counter = counters.get(key) or counters.setdefault(key, WEBHOOK_REQUESTS.labels(
                connection, platform, str(response.status_code)))
            counter.inc()
            timer = timers.get(platform) or timers.setdefault(platform, WEBHOOK_SECONDS.labels(platform))
            timer.observe(time.perf_counter() - request.environ.get(_STARTED, time.perf_counter()))
        return response

    if serve:
        app.add_url_rule("/metrics", "metrics", _metrics, methods=["GET"])


def _labels(registry) -> tuple[str, str]:
    if request.path.startswith("/webhooks/infoplus/"):
        return "-", "infoplus"
    connection_id = (request.view_args or {}).get("connection_id")
    connection = registry.get(connection_id) if connection_id is not None else None
    if connection is None:
        return "unknown", "-"
    return str(connection.id), connection.platform


def _metrics() -> Response:
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def _registry():
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY  # one process (tests, a single worker without the gunicorn config)
    return workers_sum()
