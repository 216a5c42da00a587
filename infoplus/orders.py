"""A normalized cart order -> an Infoplus v3.0 Order.

`customerOrderNo` is `<connection id>-<cart order id>` (e.g. `101-450789469`):
- it names the connection, so the tracking flow can find which cart (and which store) to update, and two stores
  that share a LOB never collide (WooCommerce and BigCommerce order ids are only unique per store);
- it carries the cart's API id of the order, which is what the cart APIs need to add a fulfillment;
- the shopper-facing order number (e.g. `#1001`) goes to `customerPONo`, where the warehouse sees it.
"""
from __future__ import annotations

from typing import Any

from schemas.connection import Connection
from schemas.order import Address, CartOrder


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
    }
