"""`GET /metrics`, `/healthz`, `/readyz` on METRICS_PORT for processes that are not web servers (consumers,
poller, reconciliation), and for the web tier's gunicorn master (config/gunicorn.py), which serves the sum of its
workers there instead of on the public port. A daemon thread: it never holds up a shutdown. No port is opened
when unset."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from events.readiness import unless_impeded

log = logging.getLogger(__name__)

Readiness = Callable[[], tuple[bool, str]]
Collect = Callable[[], CollectorRegistry]  # the registry a scrape reads, looked up per scrape


def _this_process() -> CollectorRegistry:
    return REGISTRY


def workers_sum() -> CollectorRegistry:
    """The values every gunicorn worker wrote under PROMETHEUS_MULTIPROC_DIR, added up (metrics/multiproc.py)."""
    from prometheus_client import multiprocess
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def _always_ready() -> tuple[bool, str]:
    return True, "ready"


class MetricsServer:
    def __init__(self, port: int, readiness: Readiness = _always_ready, host: str = "0.0.0.0",
                 collect: Collect = _this_process) -> None:
        handler = _handler_class(readiness, collect)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> "MetricsServer":
        self._thread.start()
        log.info("metrics on :%d/metrics", self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_if_configured(port: int | None, readiness: Readiness = _always_ready,
                        collect: Collect = _this_process) -> MetricsServer | None:
    if port is None:
        return None
    return MetricsServer(port, unless_impeded(readiness), collect=collect).start()  # e.g. every Infoplus API key refused


def _handler_class(readiness: Readiness, collect: Collect) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(collect()))
            elif path == "/healthz":
                self._json(200, {"status": "ok"})
            elif path == "/readyz":
                ready, why = readiness()
                self._json(200 if ready else 503, {"status": why})
            else:
                self._json(404, {"error": "not found"})

        def _json(self, status: int, body: dict) -> None:
            self._answer(status, "application/json", json.dumps(body).encode())

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # scrapes every 15 s are not worth a log line
            pass

    return Handler
