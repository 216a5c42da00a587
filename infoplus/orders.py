"""A normalized cart order -> an Infoplus v3.0 Order.

`customerOrderNo` is `<connection id>-<cart order id>` (e.g. `101-450789469`):
- it names the connection, so the tracking flow can find which cart (and which store) to update, and two stores
  that share a LOB never collide (WooCommerce and BigCommerce order ids are only unique per store);
- it carries the cart's API id of the order, which is what the cart APIs need to add a fulfillment;
- the shopper-facing order number (e.g. `#1001`) goes to `customerPONo`, where the warehouse sees it.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from schemas.connection import Connection
from schemas.order import Address, CartOrder, parse_version

# The cart's version of the order (its updated_at) rides along in extraOrderData, so any consumer copy, after
# any restart, can tell an update older than what reached Infoplus from a newer one.
VERSION_DATA = {"category": "cartbridge", "code": "cartVersion"}
CANCELLED_STATUSES = frozenset({"cancelled", "canceled"})  # Infoplus spells it "Canceled"; compared lower-case
_SHIP_TO_FIELDS = ("Company", "Attention", "Street", "Street2", "City", "State", "Zip", "Country")


def customer_order_no(connection_id: int, cart_order_id: str) -> str:
    return f"{connection_id}-{cart_order_id}"


def parse_customer_order_no(value: str) -> tuple[int, str] | None:
    """(connection id, cart order id) from a customerOrderNo this service wrote, else None."""
    connection_id, separator, cart_order_id = (value or "").partition("-")
    if not separator or not connection_id.isdigit() or not cart_order_id:
        return None
    return int(connection_id), cart_order_id


def _address_fields(prefix: str, address: Address) -> dict[str, str]:
    # Infoplus requires *Company: it is the first line of the address; a person's name stands in for it.
    company = address.company or address.name or "-"
    attention = address.name if address.company else ""
    fields = {"Company": company, "Attention": attention, "Street": address.street, "Street2": address.street2,
              "City": address.city, "State": address.state, "Zip": address.zip, "Country": address.country,
              "Phone": address.phone, "Email": address.email}
    return {f"{prefix}{name}": value for name, value in fields.items() if value}


def build_order(connection: Connection, order: CartOrder) -> dict[str, Any]:
    """The POST /order body. Only lines that ship go to the warehouse (gift cards, digital goods do not)."""
    lines = [line for line in order.lines if line.requires_shipping]
    return {
        "lobId": connection.lob_id,
        "warehouseId": connection.warehouse_id,
        "orderSourceId": connection.order_source_id,
        "customerOrderNo": customer_order_no(connection.id, order.cart_order_id),
        "customerPONo": order.name,
        "orderDate": order.created_at[:10],
        "carrierId": connection.default_carrier_id,
        **_address_fields("billTo", order.bill_to),
        **_address_fields("shipTo", order.ship_to),
        "lineItems": [{"lobId": connection.lob_id, "sku": line.sku, "orderedQty": line.quantity,
                       "unitSell": line.unit_price, "customerLineItemNo": line.cart_line_id} for line in lines],
        "extraOrderData": [{**VERSION_DATA, "value": order.updated_at}],
    }


# -- what Infoplus holds, for changes after creation --------------------------------------------------------
def parent_order(infoplus_orders: list[dict]) -> dict:
    """The order itself, not a backorder child (1234.000 before 1234.001)."""
    return min(infoplus_orders, key=lambda found: float(found.get("orderNo") or 0))


def recorded_version(infoplus_order: dict) -> datetime | None:
    """The cart version the order was created from; None for orders made without it."""
    for data in infoplus_order.get("extraOrderData") or []:
        if data.get("category") == VERSION_DATA["category"] and data.get("code") == VERSION_DATA["code"]:
            try:
                return parse_version(str(data.get("value")))
            except ValueError:
                return None
    return None


def is_cancelled(infoplus_order: dict) -> bool:
    return str(infoplus_order.get("status") or "").lower() in CANCELLED_STATUSES


def differences(connection: Connection, order: CartOrder, infoplus_orders: list[dict]) -> dict[str, Any]:
    """Where the cart order now differs from what Infoplus holds (empty: nothing to do).

    Lines compare as SKU -> quantity summed over the parent and its backorder children (a backorder moves
    quantity to a child, it does not change the total). The ship-to compares the fields this service sends,
    ignoring case and surrounding blanks.
    """
    wanted = build_order(connection, order)
    found: dict[str, Any] = {}
    cart_lines, held_lines = _quantities([wanted]), _quantities(infoplus_orders)
    if cart_lines != held_lines:
        found["lines"] = {"cart": cart_lines, "infoplus": held_lines}
    address = ship_to_changes(wanted, parent_order(infoplus_orders))
    if address:
        found["ship_to"] = address
    return found


def differences_in_lines_sent(connection: Connection, order: CartOrder, sent: dict[str, Any],
                              lines_at_creation: dict[str, int]) -> dict[str, Any]:
    """Like `differences`, for an order Infoplus got only some lines of (a Shopify fulfillment service: the lines
    at the service's location). Only those lines compare: each cart line's quantity now against its quantity
    when the order was created (a line gone from the cart counts 0); lines elsewhere are not ours to ship."""
    now = {line.cart_line_id: line for line in order.lines}
    skus_sent = {str(line.get("customerLineItemNo")): line.get("sku") for line in sent.get("lineItems") or []}
    changed = {}
    for line_id, at_creation in lines_at_creation.items():
        line = now.get(line_id)
        quantity = line.quantity if line else 0
        if quantity != at_creation:
            changed[line_id] = {"sku": line.sku if line else skus_sent.get(line_id), "cart": quantity,
                                "at_creation": at_creation}
    found: dict[str, Any] = {"lines": changed} if changed else {}
    address = ship_to_changes(build_order(connection, order), sent)
    if address:
        found["ship_to"] = address
    return found


def _quantities(orders: list[dict]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for found in orders:
        for line in found.get("lineItems") or []:
            totals[str(line.get("sku"))] += int(float(line.get("orderedQty") or 0))
    return dict(sorted(totals.items()))


def ship_to_changes(wanted: dict, held: dict) -> dict[str, dict[str, str]]:
    changes = {}
    for name in (f"shipTo{part}" for part in _SHIP_TO_FIELDS):
        cart, infoplus = str(wanted.get(name) or ""), str(held.get(name) or "")
        if cart.strip().casefold() != infoplus.strip().casefold():
            changes[name] = {"cart": cart, "infoplus": infoplus}
    return changes
