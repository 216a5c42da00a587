"""What `cartbridge-connect` checks in Infoplus for one connection: the LOB, warehouse, order source and carrier it
names exist (and the order source is the LOB's), and where its switches come from. A handful of GETs, each spent from
the Infoplus budget like any other call (docs/connect.md)."""
from __future__ import annotations

from carts.onboarding import Check, failed, passed
from infoplus.client import InfoplusClient
from outbound.errors import OutboundError
from schemas.connection import Connection

# field on the connection -> (Infoplus resource, what the checklist calls it, where ops find the right id)
REFERENCES = {
    "lob_id": ("lineOfBusiness", "Infoplus LOB", "Infoplus > Line of Business"),
    "warehouse_id": ("warehouse", "Infoplus warehouse", "Infoplus > Warehouse"),
    "order_source_id": ("orderSource", "Infoplus order source", "Infoplus > Order Source, of this LOB"),
    "default_carrier_id": ("carrier", "Infoplus carrier", "Infoplus > Carrier"),
}


def infoplus_checks(connection: Connection, infoplus: InfoplusClient) -> list[Check]:
    lines = [_reference(connection, field, infoplus) for field in REFERENCES]
    if connection.switches_from == "infoplus":
        lines.append(_shopping_cart_connection(connection, infoplus))
    return lines


def _reference(connection: Connection, field: str, infoplus: InfoplusClient) -> Check:
    resource, label, where = REFERENCES[field]
    wanted = getattr(connection, field)
    label = f"{label} {wanted}"
    try:
        record = infoplus.get_record(resource, wanted)
    except OutboundError as error:
        return _unanswered(label, error)
    if record is None:
        return failed(label, "not found", f"set {field} to an id from {where}")
    if field == "order_source_id" and record.get("lobId") not in (None, connection.lob_id):
        return failed(label, f"belongs to LOB {record.get('lobId')}, not {connection.lob_id}",
                      f"set {field} to an order source of LOB {connection.lob_id}")
    return passed(label, str(record.get("name") or record.get("label") or "exists"))


def _shopping_cart_connection(connection: Connection, infoplus: InfoplusClient) -> Check:
    label = f"Infoplus shopping cart connection {connection.id}"
    try:
        record = infoplus.get_shopping_cart_connection(connection.id)
    except OutboundError as error:
        return _unanswered(label, error)
    if record is None:
        return failed(label, "not found: the switches cannot be read from Infoplus",
                      "give the connection the id of its Infoplus Shopping Cart Connection, or switches_from: file")
    return passed(label, "the switches are read from it")


def _unanswered(label: str, error: OutboundError) -> Check:
    if error.status in (401, 403):
        return failed(label, f"Infoplus refused the API key ({error.status})",
                      "check INFOPLUS_API_KEY and the API user's access")
    return failed(label, f"not readable now: {error.reason}", "run the command again")
