"""Magento 2 order (`GET V1/orders`, `GET V1/orders/{id}`) -> CartOrder (docs/magento.md §3).

Paid rule, on the order's `state` (the machine's word; `status` is the store's label, merchants add their own):
`processing` means Magento has an invoice or an authorized payment — it may ship. `new` (status `pending`),
`pending_payment` (waiting for a payment gateway), `payment_review` (fraud review) and `holded` (on hold: the
merchant said "do not ship yet") wait; a later version (paid, released) creates it. `canceled` and `closed`
(refunded) mean "do not ship". `complete` means Magento already shipped (and invoiced) everything: fulfilled in
the cart, never created.

Lines: an order's items include, besides what was bought, the children of composite products. A configurable
product is one parent item (the chosen simple product's SKU, the price) with one child (price 0): the parent is
the line. A bundle's parent carries a composite SKU no warehouse stocks: its children are the lines. Virtual and
downloadable items need no shipping.
"""
from __future__ import annotations

from datetime import timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from schemas.order import Address, CartOrder, OrderLine, utc_iso

PAID_STATES = frozenset({"processing"})
CANCELLED_STATES = frozenset({"canceled", "closed"})
FULFILLED_STATES = frozenset({"complete"})
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # UTC, no zone


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE  # Magento and its extensions add fields (extension_attributes) freely


def _text() -> fields.String:
    return fields.String(allow_none=True, load_default="")


def _utc(**kwargs) -> fields.NaiveDateTime:
    return fields.NaiveDateTime(format=DATE_FORMAT, timezone=timezone.utc, **kwargs)


class MagentoAddressSchema(_Base):
    firstname = _text()
    lastname = _text()
    company = _text()
    street = fields.List(fields.String(allow_none=True), allow_none=True, load_default=list)
    city = _text()
    region = _text()
    region_code = _text()
    postcode = _text()
    country_id = _text()
    telephone = _text()
    email = _text()

    @post_load
    def _make(self, data: dict, **kwargs) -> Address:
        value = {key: (text or "") for key, text in data.items() if key != "street"}
        street = [line for line in (data["street"] or []) if line]
        return Address(name=f"{value['firstname']} {value['lastname']}".strip(), company=value["company"],
                       street=street[0] if street else "", street2=", ".join(street[1:]), city=value["city"],
                       state=value["region_code"] or value["region"], zip=value["postcode"],
                       country=value["country_id"], phone=value["telephone"], email=value["email"])


class MagentoItemSchema(_Base):
    item_id = fields.Integer(required=True, strict=True)
    parent_item_id = fields.Integer(allow_none=True, load_default=None)
    sku = fields.String(allow_none=True, load_default=None)
    product_type = fields.String(load_default="simple")
    qty_ordered = fields.Float(required=True, validate=validate.Range(min=0))
    price = fields.Float(required=True, validate=validate.Range(min=0))  # Float: "1e999" is no price
    is_virtual = fields.Boolean(truthy={1, True, "1"}, falsy={0, False, "0", None}, load_default=False)


class _ShippingSchema(_Base):
    address = fields.Nested(MagentoAddressSchema, allow_none=True, load_default=None)
    method = _text()


class _AssignmentSchema(_Base):
    shipping = fields.Nested(_ShippingSchema, allow_none=True, load_default=None)


class _ExtensionSchema(_Base):
    shipping_assignments = fields.List(fields.Nested(_AssignmentSchema), load_default=list)


class MagentoOrderSchema(_Base):
    entity_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))  # goes into URL paths
    increment_id = fields.String(allow_none=True, load_default=None)
    state = fields.String(required=True)
    status = _text()
    created_at = _utc(required=True)
    updated_at = _utc(required=True)  # the order's version: dedupe and staleness
    order_currency_code = _text()
    customer_email = _text()
    shipping_description = _text()
    items = fields.List(fields.Nested(MagentoItemSchema), required=True, validate=validate.Length(min=1))
    billing_address = fields.Nested(MagentoAddressSchema, allow_none=True, load_default=None)
    extension_attributes = fields.Nested(_ExtensionSchema, allow_none=True, load_default=None)

    @post_load
    def _make(self, data: dict, **kwargs) -> CartOrder:
        state = data["state"]
        cancelled = state in CANCELLED_STATES
        bill_to = data["billing_address"] or Address()
        shipping = _shipping(data)
        ship_to = shipping["address"] or bill_to
        email = data["customer_email"] or bill_to.email
        return CartOrder(
            cart_order_id=str(data["entity_id"]), name=f"#{data['increment_id'] or data['entity_id']}",
            created_at=utc_iso(data["created_at"]), updated_at=utc_iso(data["updated_at"]),
            paid=not cancelled and state in PAID_STATES, cancelled=cancelled,
            cart_status=f"{state}/{data['status']}" if data["status"] and data["status"] != state else state,
            fulfilled_in_cart=state in FULFILLED_STATES, lines=order_lines(data["items"]), bill_to=bill_to,
            ship_to=_with_email(ship_to, email), email=email, currency=data["order_currency_code"] or "",
            shipping_method=data["shipping_description"] or shipping["method"] or "",
        )


def shippable_items(items: list[dict]) -> list[dict]:
    """The items that are lines (see the module docstring): what Infoplus ships and `order/{id}/ship` names."""
    by_id = {item["item_id"]: item for item in items}
    lines = []
    for item in items:
        parent = by_id.get(item.get("parent_item_id"))
        if item.get("product_type") == "bundle" and not item.get("parent_item_id"):
            continue  # its children are the lines
        if parent is not None and parent.get("product_type") != "bundle":
            continue  # a configurable's child: the parent is the line
        lines.append(item)
    return lines


def order_lines(items: list[dict]) -> list[OrderLine]:
    lines = []
    for item in shippable_items(items):
        if item["qty_ordered"] != int(item["qty_ordered"]):
            raise ValidationError(f"item {item['item_id']} has a decimal quantity ({item['qty_ordered']}); "
                                  f"Infoplus orders whole units", "items")
        lines.append(OrderLine(cart_line_id=str(item["item_id"]), sku=item["sku"] or None,
                               quantity=int(item["qty_ordered"]), unit_price=float(item["price"]),
                               requires_shipping=not item["is_virtual"]))
    return lines


def _shipping(data: dict) -> dict:
    assignments = (data["extension_attributes"] or {}).get("shipping_assignments") or []
    shipping = next((a["shipping"] for a in assignments if a.get("shipping")), None)
    return shipping or {"address": None, "method": ""}


def _with_email(address: Address, email: str) -> Address:
    return Address(**{**vars(address), "email": address.email or email})
