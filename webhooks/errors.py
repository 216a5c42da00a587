"""Every rejection is a JSON answer with a reason; never a 500 for bad input, never a secret in a log line."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from events.publisher import BrokerUnavailable, EventTooLarge
from signing import SignatureError

log = logging.getLogger("webhooks")

RETRY_AFTER_SECONDS = 5


class UnknownConnection(Exception):
    pass


class NotJSON(Exception):
    pass


def printable(text: str) -> str:
    """`text` with control characters escaped: a path's `%0A` must not forge a line in a text log."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def rejection(status: int, reason: str, **extra):
    log.info("rejected status=%d path=%s reason=%s", status, printable(request.path), printable(reason))
    response = jsonify({"error": reason, **extra})
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(UnknownConnection)
    def _unknown(error):
        return rejection(404, str(error))

    @app.errorhandler(SignatureError)
    def _unsigned(error):
        return rejection(401, f"signature check failed: {error}")

    @app.errorhandler(NotJSON)
    def _not_json(error):
        return rejection(400, f"body is not JSON: {error}")

    @app.errorhandler(ValidationError)
    def _invalid(error):
        return rejection(422, "payload failed validation", messages=error.messages)

    @app.errorhandler(EventTooLarge)
    def _event_too_large(error):  # no retry can succeed, so the sender's 413, not an outage's 503
        log.warning("event too large for Kafka path=%s body_bytes=%s: %s", printable(request.path),
                    request.content_length, error)
        return rejection(413, "body too large: its event exceeds the largest message the event store accepts")

    @app.errorhandler(BrokerUnavailable)
    def _broker_down(error):
        log.warning("broker unavailable path=%s: %s", printable(request.path), error)
        response = rejection(503, "event store unavailable, retry later")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error):
        return rejection(413, f"body larger than {app.config['MAX_CONTENT_LENGTH']} bytes (MAX_BODY_BYTES)")

    @app.errorhandler(HTTPException)
    def _http(error):  # 404 for unknown paths, 405 …
        return rejection(error.code or 500, error.description or error.name)
