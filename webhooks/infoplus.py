"""`POST /webhooks/infoplus/inventory` and `/shipments`: Infoplus records pushed by anything that can push.

Authenticated with Standard Webhooks (`INFOPLUS_WEBHOOK_SECRET`, `whsec_…`, 5-minute replay window).
The body is one record or a list; each record becomes one event.
"""
from __future__ import annotations

import logging
from typing import Callable

from flask import Blueprint, jsonify, request
from marshmallow import Schema

from events.infoplus import inventory_event, shipment_event
from schemas.infoplus import InfoplusItemSchema, InfoplusShipmentSchema
from signing import SignatureError
from webhooks.bodies import parse_json, raw_body
from webhooks.services import services

bp = Blueprint("infoplus", __name__)
log = logging.getLogger("webhooks")
SOURCE = "infoplus"


def _verify(body: bytes) -> str:
    verifier = services().infoplus_verifier
    if verifier is None:
        raise SignatureError("INFOPLUS_WEBHOOK_SECRET is not configured, so no push can be authenticated")
    return verifier.verify(request.headers, body)


def _receive(schema: Schema, to_event: Callable) -> tuple:
    body = raw_body()
    message_id = _verify(body)
    payload = parse_json(body)
    originals = payload if isinstance(payload, list) else [payload]
    records = schema.load(originals, many=True)  # 422 with messages per index
    events = [to_event(record, original, SOURCE) for record, original in zip(records, originals)]
    if events:
        topic = events[0][0]
        services().publisher.publish_many(topic, [(key, envelope) for _, key, envelope in events])
    event_ids = [envelope.event_id for _, _, envelope in events]
    log.info("accepted webhook_id=%s %d records event_ids=%s", message_id, len(event_ids), ",".join(event_ids))
    return jsonify({"event_ids": event_ids}), 202


_ITEM_SCHEMA = InfoplusItemSchema()  # schemas are built once: construction costs more than a load
_SHIPMENT_SCHEMA = InfoplusShipmentSchema()


@bp.post("/webhooks/infoplus/inventory")
def receive_inventory():
    return _receive(_ITEM_SCHEMA, inventory_event)


@bp.post("/webhooks/infoplus/shipments")
def receive_shipments():
    return _receive(_SHIPMENT_SCHEMA, shipment_event)
