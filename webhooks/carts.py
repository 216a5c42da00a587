"""`POST /webhooks/carts/<connection_id>`: order webhooks from Shopify (and, later, WooCommerce and BigCommerce)."""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, jsonify, request

from carts import platform_for
from carts.base import IgnoredDelivery
from events import topics
from events.envelopes import make_envelope
from webhooks.errors import NotJSON, UnknownConnection
from webhooks.services import services

bp = Blueprint("carts", __name__)
log = logging.getLogger("webhooks")


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotJSON(str(error)) from None


@bp.post("/webhooks/carts/<connection_id>")
def receive_cart_delivery(connection_id: str):
    connection = services().registry.get(connection_id)
    if connection is None:
        raise UnknownConnection(f"unknown connection {connection_id}")
    body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    platform = platform_for(connection.platform)
    if platform.is_ping(request.headers, body):
        return "", 200
    platform.verify(request.headers, body, connection)
    payload = parse_json(body)
    try:
        delivery = platform.read_delivery(request.headers, payload, connection)
    except IgnoredDelivery as ignored:  # 2xx so the cart does not retry or drop the subscription
        log.info("ignored connection=%s reason=%s", connection.id, ignored)
        return jsonify({"ignored": True, "reason": str(ignored)}), 200
    envelope = make_envelope(event_type=delivery.event_type, source=platform.name, connection_id=connection.id,
                             dedupe_key=delivery.dedupe_key, payload=delivery.payload, original=payload,
                             delivery=delivery.metadata)
    services().publisher.publish(topics.CART_ORDERS, f"{connection.id}:{delivery.entity_key}", envelope)
    log.info("accepted event_id=%s connection=%s type=%s key=%s",
             envelope.event_id, connection.id, envelope.type, delivery.entity_key)
    return jsonify({"event_ids": [envelope.event_id]}), 202
