"""BigCommerce payloads: the thin order webhook -> OrderReference; the v2 order (+ products, shipping
addresses, fetched by the orders consumer) -> CartOrder.

Paid rule (status ids, cart-apis.md §3.1): an order may ship once BigCommerce has confirmed the payment —
Awaiting Fulfillment (11), Awaiting Shipment (9), Awaiting Pickup (8), Partially Shipped (3), Shipped (2),
Completed (10), Partially Refunded (14). Incomplete (0), Pending (1), Awaiting Payment (7), Declined (6),
Manual Verification Required (12) and Disputed (13) wait for a `store/order/statusUpdated`.
Cancelled (5) and Refunded (4) mean "do not ship".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from schemas.order import Address, CartOrder, OrderLine, utc_iso

PAID_STATUS_IDS = frozenset({2, 3, 8, 9, 10, 11, 14})
CANCELLED_STATUS_IDS = frozenset({4, 5})
SHIPPED_STATUS_IDS = frozenset({2, 10})  # Shipped, Completed
ORDER_SCOPES = frozenset({"store/order/created", "store/order/updated", "store/order/statusUpdated"})
LATEST_UNIX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z: the orders consumer reads created_at as a datetime


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE  # BigCommerce adds fields without a version bump


# -- the webhook -------------------------------------------------------------------------------------------
@dataclass
class OrderReference:
    """What a BigCommerce order webhook says: which order changed, nothing of its content."""

    order_id: str
    scope: str
    hash: str  # unkeyed SHA-1 of the payload data: BigCommerce's own dedupe key, not a signature
    created_at: int  # when BigCommerce produced the event (unix seconds)
    new_status_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class _StatusChangeSchema(_Base):
    previous_status_id = fields.Integer(load_default=None)
    new_status_id = fields.Integer(load_default=None)


class _WebhookDataSchema(_Base):
    type = fields.String(required=True)
    id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))  # goes into a URL path
    status = fields.Nested(_StatusChangeSchema, load_default=None)


class BigCommerceWebhookSchema(_Base):
    scope = fields.String(required=True)
    store_id = fields.String(load_default="")
    data = fields.Nested(_WebhookDataSchema, required=True)
    hash = fields.String(required=True, validate=validate.Length(min=1))
    created_at = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=LATEST_UNIX_TIME))
    producer = fields.String(load_default="")

    @post_load
    def _make(self, data: dict, **kwargs) -> OrderReference:
        status = data["data"]["status"] or {}
        return OrderReference(order_id=str(data["data"]["id"]), scope=data["scope"], hash=data["hash"],
                              created_at=data["created_at"], new_status_id=status.get("new_status_id"))


# -- the order, as the consumer fetches it ------------------------------------------------------------------
def _text() -> fields.String:
    return fields.String(allow_none=True, load_default="")


class BigCommerceAddressSchema(_Base):
    id = fields.Integer(load_default=None)  # shipping addresses only: products point at it (order_address_id)
    first_name = _text()
    last_name = _text()
    company = _text()
    street_1 = _text()
    street_2 = _text()
    city = _text()
    state = _text()
    zip = _text()
    country_iso2 = _text()
    phone = _text()
    email = _text()
    shipping_method = _text()

    @post_load
    def _make(self, data: dict, **kwargs) -> dict[str, Any]:
        value = {key: (text or "") for key, text in data.items() if key != "id"}
        address = Address(name=f"{value['first_name']} {value['last_name']}".strip(), company=value["company"],
                          street=value["street_1"], street2=value["street_2"], city=value["city"],
                          state=value["state"], zip=value["zip"], country=value["country_iso2"],
                          phone=value["phone"], email=value["email"])
        return {"id": data["id"], "address": address, "shipping_method": value["shipping_method"]}


class BigCommerceProductSchema(_Base):
    id = fields.Integer(required=True, strict=True)  # the order_product_id shipments refer to
    sku = fields.String(allow_none=True, load_default=None)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    price_ex_tax = fields.Float(required=True, validate=validate.Range(min=0))  # not Decimal: "1e999" is no price
    type = fields.String(load_default="physical")  # "physical" or "digital"

    @post_load
    def _make(self, data: dict, **kwargs) -> OrderLine:
        return OrderLine(cart_line_id=str(data["id"]), sku=data["sku"] or None, quantity=data["quantity"],
                         unit_price=float(data["price_ex_tax"]), requires_shipping=data["type"] != "digital")


class BigCommerceOrderSchema(_Base):
    """`GET v2/orders/{id}` with `products` and `shipping_addresses` replaced by their fetched lists."""

    id = fields.Integer(required=True, strict=True)
    status_id = fields.Integer(required=True, strict=True)
    status = _text()
    date_created = fields.DateTime(format="rfc", required=True)
    date_modified = fields.DateTime(format="rfc", required=True)  # the order's version
    currency_code = _text()
    billing_address = fields.Nested(BigCommerceAddressSchema, allow_none=True, load_default=None)
    products = fields.List(fields.Nested(BigCommerceProductSchema), required=True, validate=validate.Length(min=1))
    shipping_addresses = fields.List(fields.Nested(BigCommerceAddressSchema), load_default=list)

    @validates_schema
    def _one_destination(self, data: dict, **kwargs) -> None:
        if len(data.get("shipping_addresses") or []) > 1:
            raise ValidationError("the order ships to several addresses; an Infoplus order has one ship-to, "
                                  "so ops must split it by hand", "shipping_addresses")

    @post_load
    def _make(self, data: dict, **kwargs) -> CartOrder:
        billing = data["billing_address"] or {"address": Address(), "shipping_method": ""}
        shipping = data["shipping_addresses"][0] if data["shipping_addresses"] else billing
        email = billing["address"].email
        status_id = data["status_id"]
        cancelled = status_id in CANCELLED_STATUS_IDS
        return CartOrder(
            cart_order_id=str(data["id"]), name=f"#{data['id']}",
            created_at=utc_iso(data["date_created"]), updated_at=utc_iso(data["date_modified"]),
            paid=not cancelled and status_id in PAID_STATUS_IDS, cancelled=cancelled,
            cart_status=f"{status_id} {data['status'] or ''}".strip(), lines=data["products"],
            fulfilled_in_cart=status_id in SHIPPED_STATUS_IDS,
            bill_to=billing["address"], ship_to=_with_email(shipping["address"], email), email=email,
            currency=data["currency_code"] or "", shipping_method=shipping["shipping_method"],
        )


def _with_email(address: Address, email: str) -> Address:
    return Address(**{**vars(address), "email": address.email or email})
