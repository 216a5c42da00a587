"""The web tier: authenticate, validate, publish to Kafka, answer 202 — nothing slow in a request."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from config.connections import ConnectionRegistry, check_webhook_secrets
from config.logs import configure_logging
from config.settings import Settings
from events.publisher import Publisher
from metrics import web as metrics
from signing import StandardWebhooks
from webhooks import errors, health
from webhooks.carts import bp as carts_bp
from webhooks.infoplus import bp as infoplus_bp
from webhooks.services import Services


def create_app(test_config: Mapping[str, Any] | None = None, *, settings: Settings | None = None,
               registry: ConnectionRegistry | None = None, publisher: Publisher | None = None) -> Flask:
    """Build the web app; tests hand in their own settings, registry or publisher."""
    configure_logging()
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    if test_config:
        app.config.from_mapping(test_config)
    app.extensions["cartbridge"] = Services(
        settings=settings,
        registry=registry or ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds,
                                                check=check_webhook_secrets),
        publisher=publisher or Publisher(settings),
        infoplus_verifier=_infoplus_verifier(settings),
    )
    errors.init_app(app)
    if app.config.get("METRICS_ENABLED", True):  # off only to measure what metrics cost (bench/webhooks.py)
        # With METRICS_PORT set, /metrics is served there (config/gunicorn.py), never on the public port.
        metrics.init_app(app, app.extensions["cartbridge"].registry, serve=settings.metrics_port is None)
    app.register_blueprint(health.bp)
    app.register_blueprint(carts_bp)
    app.register_blueprint(infoplus_bp)
    logging.getLogger(__name__).info("web app ready: topic prefix %r", settings.kafka_topic_prefix)
    return app


def _infoplus_verifier(settings: Settings) -> StandardWebhooks | None:
    if not settings.infoplus_webhook_secret:
        return None
    try:
        return StandardWebhooks.from_secret(settings.infoplus_webhook_secret)
    except ValueError as error:  # fail at startup, not on the first push
        raise SystemExit(f"INFOPLUS_WEBHOOK_SECRET: {error}") from None
