"""Liveness and readiness for the orchestrator."""
from __future__ import annotations

import socket

from flask import Blueprint, jsonify

from webhooks.services import services

bp = Blueprint("health", __name__)


def _broker_reachable(bootstrap_servers: str, timeout: float = 1.0) -> bool:
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host or "localhost", int(port or 9092)), timeout=timeout).close()
            return True
        except (OSError, ValueError):
            continue
    return False


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    if _broker_reachable(services().settings.kafka_bootstrap_servers):
        return jsonify({"status": "ready"})
    return jsonify({"status": "kafka unreachable"}), 503
