"""Events made from Infoplus records — the same whether they were pushed to the web tier or polled.

Event ids come from the record's content, so the same item state or shipment seen twice (a re-push, a poller
restart) is the same event.
"""
from __future__ import annotations

from events import topics
from events.envelopes import make_envelope
from schemas.envelope import Envelope
from schemas.infoplus import InventoryLevel, ShipmentRecord

INVENTORY_EVENT = "infoplus.inventory_level"
SHIPMENT_EVENT = "infoplus.shipment"


def inventory_event(level: InventoryLevel, original: dict | None, source: str) -> tuple[str, str, Envelope]:
    """(topic, key, envelope): keyed by LOB and SKU so one item's updates stay in order."""
    key = f"{level.lob_id}:{level.sku}"
    dedupe = f"{key}:{level.modified_at}:{level.orderable_quantity}:{level.backorder}"
    envelope = make_envelope(event_type=INVENTORY_EVENT, source=source, connection_id=None, dedupe_key=dedupe,
                             payload=level.to_dict(), original=original)
    return topics.INFOPLUS_INVENTORY, key, envelope


def shipment_event(shipment: ShipmentRecord, original: dict | None, source: str) -> tuple[str, str, Envelope]:
    """(topic, key, envelope): keyed by LOB and the parent order, so all cartons of one order stay in order."""
    parent_order = int(shipment.order_no)  # backorder children (1234.001) belong with their parent (1234)
    key = f"{shipment.lob_id}:{parent_order}"
    dedupe = f"{shipment.shipment_id}:{shipment.order_no}:{shipment.tracking_no}:{shipment.carton_no}"
    envelope = make_envelope(event_type=SHIPMENT_EVENT, source=source, connection_id=None, dedupe_key=dedupe,
                             payload=shipment.to_dict(), original=original)
    return topics.INFOPLUS_SHIPMENTS, key, envelope
