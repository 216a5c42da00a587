"""Liveness and readiness for the orchestrator."""
from __future__ import annotations

import threading

from flask import Blueprint, current_app, jsonify

from events.readiness import KafkaReadiness
from webhooks.services import services

bp = Blueprint("health", __name__)
_create_lock = threading.Lock()


def _readiness() -> KafkaReadiness:
    """One probe per app (per gunicorn worker: made on first use, after the fork)."""
    with _create_lock:
        probe = current_app.extensions.get("cartbridge.readiness")
        if probe is None:
            probe = current_app.extensions["cartbridge.readiness"] = KafkaReadiness(services().settings)
        return probe


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """200 once the broker answered a request with this process's Kafka settings (address, TLS, credentials);
    503 naming the category (unreachable, authentication failed, certificate not trusted …) otherwise."""
    readiness = _readiness().check()
    if readiness.ready:
        return jsonify({"status": "ready"})
    return jsonify({"status": "not ready", "kafka": readiness.reason}), 503
