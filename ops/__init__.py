"""The operations console (Procfile `ops`): connections and their flows, dead letters and skipped events with
replay, consumer groups with lag and a scaling hint, the poller. Server-rendered pages, small enough for a phone.

Nothing is shown and nothing is done without OPS_TOKEN (the login form, or `Authorization: Bearer`); unset, the
app refuses to start. Every POST is checked for a same-origin request and, for a logged-in browser, its
per-session CSRF token (ops/auth.py).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
from typing import Any, Mapping

from flask import Flask

from config.connections import ConnectionRegistry
from config.logs import configure_logging
from config.settings import Settings
from events.publisher import Publisher
from ops import auth, views
from ops.cluster import Cluster
from ops.services import OpsServices, switch_reader


def create_app(test_config: Mapping[str, Any] | None = None, *, settings: Settings | None = None,
               token: str | None = None, cluster: Cluster | None = None,
               publisher: Publisher | None = None) -> Flask:
    configure_logging()
    token = token if token is not None else os.environ.get("OPS_TOKEN", "")
    if not token.strip():
        raise SystemExit("OPS_TOKEN is not set: the ops console refuses to start without its secret")
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(
        # The session key comes from the token: every worker agrees on it, and a new token logs everyone out.
        SECRET_KEY=hmac.new(token.encode(), b"cartbridge ops session", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", OPS_TOKEN=token)
    if test_config:
        app.config.from_mapping(test_config)
    registry = ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds)
    app.extensions["cartbridge_ops"] = OpsServices(
        settings=settings, registry=registry, switches=switch_reader(settings, registry),
        cluster=cluster or Cluster(settings), publisher=publisher or Publisher(settings))
    auth.init_app(app)
    app.register_blueprint(views.bp)
    logging.getLogger(__name__).info("ops console ready: topic prefix %r", settings.kafka_topic_prefix)
    return app
