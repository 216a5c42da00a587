"""Shared steps of the tracking tests: an Infoplus order made from a cart order, its shipments pushed through
the real web endpoint (Standard Webhooks), and a way to wait until the consumer has handled given events."""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from typing import Mapping

from events import topics
from events.infoplus import shipment_event
from events.publisher import Publisher
from schemas.infoplus import InfoplusShipmentSchema
from signing import StandardWebhooks
from tests.support.world import eventually

PUSH_SECRET = "whsec_dGVzdC1pbmZvcGx1cy1wdXNoLXNlY3JldA=="
LOB, SOURCE, WAREHOUSE = 10000, 55, 1000
WAIT = 60  # seconds: the machine is shared with other test runs


def enable_tracking(world, connection_id: int = 101, **fields) -> None:
    """Sync Tracking Data on (plus any other connection fields), before the consumer starts."""
    connection = next(c for c in world.connections if c["id"] == connection_id)
    connection.update({"sync_tracking_data": True, **fields})
    world.write_connections()
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = PUSH_SECRET


def infoplus_order(world, cart_order_id: int | str, lines: Mapping[str, int], *, connection_id: int = 101,
                   lob_id: int = LOB, order_source_id: int = SOURCE, customer_order_no: str | None = None) -> dict:
    """The Infoplus order the orders consumer would have made from this cart order."""
    return world.infoplus.add_order({
        "customerOrderNo": customer_order_no or f"{connection_id}-{cart_order_id}", "lobId": lob_id,
        "orderSourceId": order_source_id, "warehouseId": WAREHOUSE, "customerPONo": f"#{cart_order_id}",
        "lineItems": [{"lobId": lob_id, "sku": sku, "orderedQty": qty} for sku, qty in lines.items()]})


def push(world, *records: dict) -> list[str]:
    """POST the Shipment records to /webhooks/infoplus/shipments, signed; returns the event ids."""
    body = json.dumps(list(records) if len(records) > 1 else records[0]).encode()
    message_id = f"msg_{time.monotonic_ns()}"
    timestamp = int(time.time())
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "Content-Type": "application/json",
               "webhook-signature": StandardWebhooks.from_secret(PUSH_SECRET).sign(message_id, timestamp, body)}
    response = world.post("/webhooks/infoplus/shipments", body, headers)
    assert response.status_code == 202, response.text
    return response.json()["event_ids"]


def publish_as(world, record: dict, source: str) -> str:
    """The same shipment published by another producer (e.g. the poller): a different event id, same content."""
    shipment = InfoplusShipmentSchema().load(record)
    topic, key, envelope = shipment_event(shipment, record, source)
    publisher = Publisher(world.settings())
    try:
        publisher.publish_many(topic, [(key, envelope)])
    finally:
        publisher.close()
    return envelope.event_id


def wait_handled(consumer, event_ids: list[str], outcome: str = "done", timeout: float = WAIT) -> None:
    """Until the consumer's log shows each event id handled with `outcome` ("done", "skipped" …)."""
    def handled() -> bool:
        log = consumer.output()
        return all(f"{outcome} event_id={event_id}" in log for event_id in event_ids)
    eventually(handled, timeout, message=f"{outcome} for {event_ids}")


def dead_letters(world, expect: int = 1) -> list[dict]:
    return world.read(topics.dead_letters(topics.INFOPLUS_SHIPMENTS), expect=expect, timeout=WAIT if expect else 2)


def skipped(world, expect: int = 1) -> list[dict]:
    return world.read(topics.skipped(topics.INFOPLUS_SHIPMENTS), expect=expect, timeout=WAIT if expect else 2)


def shopify_reads(world) -> Counter:
    """How many GraphQL queries (not mutations) of each operation name reached the Shopify stand-in."""
    queries = (call.json.get("query") for call in world.shopify.calls if isinstance(call.json, dict))
    named = (re.match(r"\s*query\s+(\w+)", text) for text in queries if isinstance(text, str))
    return Counter(found.group(1) for found in named if found)
