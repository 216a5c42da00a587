"""`POST /webhooks/carts/<connection_id>`: order webhooks from Shopify, WooCommerce and BigCommerce."""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import Blueprint, jsonify, request

from carts import platform_for
from carts.base import Delivery, IgnoredDelivery
from config.logs import event_fields
from events import topics
from events.envelopes import make_envelope
from schemas.connection import Connection
from webhooks.bodies import parse_json, raw_body
from webhooks.errors import UnknownConnection
from webhooks.services import services

bp = Blueprint("carts", __name__)
log = logging.getLogger("webhooks")


@bp.post("/webhooks/carts/<connection_id>")
def receive_cart_delivery(connection_id: str):
    connection = services().registry.get(connection_id)
    if connection is None:
        raise UnknownConnection(f"unknown connection {connection_id}")
    body = raw_body()
    platform = platform_for(connection.platform)
    if platform.deliveries.is_ping(request.headers, body):
        return "", 200
    platform.deliveries.verify(request.headers, body, connection)
    payload = parse_json(body)
    return _publish(connection, platform.name, payload,
                    lambda: platform.deliveries.read_delivery(request.headers, payload, connection),
                    lambda delivery: f"key={delivery.entity_key}")


@bp.post("/webhooks/carts/<connection_id>/fulfillment_order_notification")
def receive_fulfillment_order_notification(connection_id: str):
    """Shopify's fulfillment service callback: authenticate, publish, answer; the orders consumer does the work."""
    connection = services().registry.get(connection_id)
    if connection is None or not connection.fulfillment_service:
        raise UnknownConnection(f"unknown connection {connection_id} (or not a fulfillment service connection)")
    body = raw_body()
    platform = platform_for(connection.platform)
    platform.deliveries.verify(request.headers, body, connection)
    payload = parse_json(body)
    return _publish(connection, platform.name, payload,
                    lambda: platform.deliveries.read_fulfillment_notification(request.headers, payload),
                    lambda delivery: f"kind={delivery.payload['kind']}")


def _publish(connection: Connection, source: str, payload: Any, read: Callable[[], Delivery],
             describe: Callable[[Delivery], str]):
    """Read the delivery, publish its event to cart.orders (acknowledged) and answer 202 with its id; a delivery
    the cart module does not handle is answered 200 "ignored", so the cart neither retries nor drops the
    subscription. `describe` names the delivery in the log line."""
    try:
        delivery = read()
    except IgnoredDelivery as ignored:
        log.info("ignored connection=%s reason=%s", connection.id, ignored)
        return jsonify({"ignored": True, "reason": str(ignored)}), 200
    envelope = make_envelope(event_type=delivery.event_type, source=source, connection_id=connection.id,
                             dedupe_key=delivery.dedupe_key, payload=delivery.payload, original=payload,
                             delivery=delivery.metadata)
    services().publisher.publish(topics.CART_ORDERS, f"{connection.id}:{delivery.entity_key}", envelope)
    log.info("accepted event_id=%s connection=%s type=%s %s", envelope.event_id, connection.id, envelope.type,
             describe(delivery), extra=event_fields("web", envelope, "accepted"))
    return jsonify({"event_ids": [envelope.event_id]}), 202
