"""Infoplus push endpoints: Standard Webhooks auth, one record or a list, one event per record."""
from __future__ import annotations

import json
import time

from events import topics
from signing import StandardWebhooks

SECRET = "whsec_dGVzdC1pbmZvcGx1cy1wdXNoLXNlY3JldA=="
ITEM = {"lobId": 10000, "sku": "SKU-1", "orderableQuantity": 30, "backorder": "No",
        "modifyDate": "2026-11-27T10:00:00.000Z", "itemDescription": "Widget"}
SHIPMENT = {"id": 9001, "orderNo": 1234.0, "lobId": 10000, "trackingNo": "1Z999AA10123456784",
            "carrierCompany": "UPS", "shipDate": "2026-11-27T18:02:00Z", "status": "Shipped", "cartonNo": 1,
            "numberOfCartons": 1}


def signed(body: bytes, *, secret: str = SECRET, timestamp: int | None = None, message_id: str = "msg_1") -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = StandardWebhooks.from_secret(secret).sign(message_id, timestamp, body)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature,
            "Content-Type": "application/json"}


def post(world, path: str, payload, **kwargs):
    body = json.dumps(payload).encode()
    return world.post(path, body, signed(body, **kwargs))


def test_a_list_of_items_becomes_one_event_per_item_keyed_by_lob_and_sku(world):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET
    items = [ITEM, {**ITEM, "sku": "SKU-2", "orderableQuantity": 0, "backorder": "Yes"}]

    response = post(world, "/webhooks/infoplus/inventory", items)

    assert response.status_code == 202, response.text
    assert len(response.json()["event_ids"]) == 2
    events = world.read(topics.INFOPLUS_INVENTORY, expect=2)
    payloads = sorted((e["payload"]["sku"], e["payload"]["orderable_quantity"], e["payload"]["backorder"])
                      for e in events)
    assert payloads == [("SKU-1", 30, False), ("SKU-2", 0, True)]


def test_one_shipment_record_is_published(world):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET

    response = post(world, "/webhooks/infoplus/shipments", SHIPMENT)

    assert response.status_code == 202
    [event] = world.read(topics.INFOPLUS_SHIPMENTS)
    assert event["payload"]["tracking_no"] == "1Z999AA10123456784" and event["payload"]["order_no"] == 1234.0
    assert event["original"]["carrierCompany"] == "UPS"


def test_wrong_secret_stale_timestamp_and_no_secret_configured_are_401(world):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET
    other = "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA=="
    assert post(world, "/webhooks/infoplus/inventory", ITEM, secret=other).status_code == 401
    stale = post(world, "/webhooks/infoplus/inventory", ITEM, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and "replay" in stale.json()["error"]
    assert world.read(topics.INFOPLUS_INVENTORY, expect=0, timeout=2) == []


def test_pushes_are_refused_when_no_secret_is_configured(world):
    assert post(world, "/webhooks/infoplus/inventory", ITEM).status_code == 401


def test_invalid_records_get_422_with_messages_per_record(world):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET
    bad = [ITEM, {**ITEM, "orderableQuantity": "lots", "backorder": "maybe"}]

    response = post(world, "/webhooks/infoplus/inventory", bad)

    assert response.status_code == 422
    messages = response.json()["messages"]["1"]
    assert "orderableQuantity" in messages and "backorder" in messages


def test_not_json_is_400(world):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET
    body = b"sku=1"
    assert world.post("/webhooks/infoplus/shipments", body, signed(body)).status_code == 400
