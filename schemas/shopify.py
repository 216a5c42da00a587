"""Shopify order webhook payload (the REST order resource) -> CartOrder."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from schemas.order import Address, CartOrder, OrderLine

# Payment states in which the merchant has the money or an authorization for it: the order may ship.
# `pending` (e.g. bank transfer, cash on delivery not yet confirmed) waits for `orders/paid`.
PAID_STATES = frozenset({"authorized", "paid", "partially_paid", "partially_refunded"})


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE  # Shopify adds fields with every API version


class ShopifyAddressSchema(_Base):
    first_name = fields.String(allow_none=True, load_default="")
    last_name = fields.String(allow_none=True, load_default="")
    name = fields.String(allow_none=True, load_default="")
    company = fields.String(allow_none=True, load_default="")
    address1 = fields.String(allow_none=True, load_default="")
    address2 = fields.String(allow_none=True, load_default="")
    city = fields.String(allow_none=True, load_default="")
    province_code = fields.String(allow_none=True, load_default="")
    zip = fields.String(allow_none=True, load_default="")
    country_code = fields.String(allow_none=True, load_default="")
    phone = fields.String(allow_none=True, load_default="")

    @post_load
    def _make(self, data: dict, **kwargs) -> Address:
        value = {key: (text or "") for key, text in data.items()}
        name = value["name"] or f"{value['first_name']} {value['last_name']}".strip()
        return Address(name=name, company=value["company"], street=value["address1"], street2=value["address2"],
                       city=value["city"], state=value["province_code"], zip=value["zip"],
                       country=value["country_code"], phone=value["phone"])


class ShopifyLineItemSchema(_Base):
    id = fields.Integer(required=True, strict=True)
    sku = fields.String(allow_none=True, load_default=None)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    # What is left of the line after order edits and restocked refunds (0: removed); absent in old API versions.
    current_quantity = fields.Integer(allow_none=True, load_default=None, strict=True,
                                      validate=validate.Range(min=0))
    # Float, not Decimal: Decimal takes "1e999", which becomes an infinite unit price no consumer can read.
    price = fields.Float(required=True, validate=validate.Range(min=0))
    requires_shipping = fields.Boolean(load_default=True)

    @post_load
    def _make(self, data: dict, **kwargs) -> OrderLine:
        current = data["current_quantity"]
        return OrderLine(cart_line_id=str(data["id"]), sku=data["sku"] or None,
                         quantity=data["quantity"] if current is None else current,
                         unit_price=float(data["price"]), requires_shipping=data["requires_shipping"])


class ShopifyShippingLineSchema(_Base):
    title = fields.String(allow_none=True, load_default="")


class ShopifyOrderSchema(_Base):
    id = fields.Integer(required=True, strict=True)
    name = fields.String(required=True)
    email = fields.String(allow_none=True, load_default="")
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    cancelled_at = fields.DateTime(allow_none=True, load_default=None)
    financial_status = fields.String(allow_none=True, load_default=None)
    fulfillment_status = fields.String(allow_none=True, load_default=None)  # "fulfilled": every line went out
    currency = fields.String(allow_none=True, load_default="")
    line_items = fields.List(fields.Nested(ShopifyLineItemSchema), required=True, validate=validate.Length(min=1))
    billing_address = fields.Nested(ShopifyAddressSchema, allow_none=True, load_default=None)
    shipping_address = fields.Nested(ShopifyAddressSchema, allow_none=True, load_default=None)
    shipping_lines = fields.List(fields.Nested(ShopifyShippingLineSchema), load_default=list)

    @post_load
    def _make(self, data: dict, **kwargs) -> CartOrder:
        ship_to = data["shipping_address"] or Address()
        bill_to = data["billing_address"] or ship_to
        email = data["email"] or ""
        return CartOrder(
            cart_order_id=str(data["id"]), name=data["name"],
            created_at=data["created_at"].isoformat(), updated_at=data["updated_at"].isoformat(),
            paid=data["financial_status"] in PAID_STATES, cancelled=data["cancelled_at"] is not None,
            fulfilled_in_cart=data["fulfillment_status"] == "fulfilled",
            lines=[line for line in data["line_items"] if line.quantity > 0],  # a removed line ships nothing
            bill_to=_with_email(bill_to, email), ship_to=_with_email(ship_to, email),
            email=email, currency=data["currency"] or "",
            shipping_method=next((line["title"] for line in data["shipping_lines"] if line["title"]), ""),
        )


def _with_email(address: Address, email: str) -> Address:
    return Address(**{**address.__dict__, "email": address.email or email})


class FulfillmentOrderNotificationSchema(Schema):
    """The fulfillment service callback body (`<callbackUrl>/fulfillment_order_notification`): `{"kind": ...}`,
    FULFILLMENT_REQUEST or CANCELLATION_REQUEST; the fulfillment orders are read from the Admin API."""

    class Meta:
        unknown = EXCLUDE  # Shopify may add fields

    kind = fields.String(required=True, validate=validate.Length(min=1))
