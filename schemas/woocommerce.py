"""WooCommerce order payload (REST v3 order resource, as webhooks and `GET /wc/v3/orders` send it) -> CartOrder.

Paid rule: an order may ship once WooCommerce reports it paid — status `processing` or `completed`, or a
`date_paid_gmt` (`date_paid`) set by the payment gateway. `pending`, `on-hold` (awaiting a bank transfer or
cheque) and `failed` wait for a later `order.updated`. `cancelled` and `refunded` mean "do not ship".
"""
from __future__ import annotations

from datetime import timezone

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from schemas.order import Address, CartOrder, OrderLine, utc_iso

PAID_STATUSES = frozenset({"processing", "completed"})
CANCELLED_STATUSES = frozenset({"cancelled", "refunded"})


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE  # WooCommerce and its plugins add fields freely


def _text() -> fields.String:
    return fields.String(allow_none=True, load_default="")


class _GmtDateTime(fields.NaiveDateTime):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except OverflowError:  # an offset that moves 9999-12-31 or 0001-01-01 out of range when made UTC
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


def _gmt(**kwargs) -> fields.NaiveDateTime:
    # `*_gmt` values carry no offset; one that does is converted to UTC rather than refused.
    return _GmtDateTime(timezone=timezone.utc, **kwargs)


class WooAddressSchema(_Base):
    first_name = _text()
    last_name = _text()
    company = _text()
    address_1 = _text()
    address_2 = _text()
    city = _text()
    state = _text()
    postcode = _text()
    country = _text()
    email = _text()
    phone = _text()

    @post_load
    def _make(self, data: dict, **kwargs) -> Address:
        value = {key: (text or "") for key, text in data.items()}
        return Address(name=f"{value['first_name']} {value['last_name']}".strip(), company=value["company"],
                       street=value["address_1"], street2=value["address_2"], city=value["city"],
                       state=value["state"], zip=value["postcode"], country=value["country"],
                       phone=value["phone"], email=value["email"])


class WooLineItemSchema(_Base):
    id = fields.Integer(required=True, strict=True)
    sku = fields.String(allow_none=True, load_default=None)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    # A JSON number in wc/v3. Float, not Decimal: Decimal takes "1e999", which becomes an infinite unit price.
    price = fields.Float(required=True, validate=validate.Range(min=0))

    @post_load
    def _make(self, data: dict, **kwargs) -> OrderLine:
        # The order payload does not say whether a product is virtual: every line is treated as shipping.
        return OrderLine(cart_line_id=str(data["id"]), sku=data["sku"] or None, quantity=data["quantity"],
                         unit_price=float(data["price"]))


class WooShippingLineSchema(_Base):
    method_title = _text()


class WooOrderSchema(_Base):
    id = fields.Integer(required=True, strict=True)
    number = fields.String(allow_none=True, load_default=None)
    status = fields.String(required=True)
    currency = _text()
    date_created_gmt = _gmt(required=True)
    date_modified_gmt = _gmt(required=True)  # the order's version: dedupe and staleness
    date_paid_gmt = _gmt(allow_none=True, load_default=None)
    date_paid = fields.String(allow_none=True, load_default=None)  # site-local time: only "is it set" matters
    billing = fields.Nested(WooAddressSchema, allow_none=True, load_default=None)
    shipping = fields.Nested(WooAddressSchema, allow_none=True, load_default=None)
    line_items = fields.List(fields.Nested(WooLineItemSchema), required=True, validate=validate.Length(min=1))
    shipping_lines = fields.List(fields.Nested(WooShippingLineSchema), load_default=list)

    @post_load
    def _make(self, data: dict, **kwargs) -> CartOrder:
        bill_to = data["billing"] or Address()
        shipping = data["shipping"] or Address()
        ship_to = bill_to if shipping.is_empty() else shipping  # no separate shipping address: ship to billing
        email = bill_to.email
        cancelled = data["status"] in CANCELLED_STATUSES
        return CartOrder(
            cart_order_id=str(data["id"]), name=f"#{data['number'] or data['id']}",
            created_at=utc_iso(data["date_created_gmt"]), updated_at=utc_iso(data["date_modified_gmt"]),
            paid=not cancelled and is_paid(data), cancelled=cancelled, cart_status=data["status"],
            fulfilled_in_cart=data["status"] == "completed",
            lines=data["line_items"], bill_to=bill_to, ship_to=_with_email(ship_to, email), email=email,
            currency=data["currency"] or "",
            shipping_method=next((line["method_title"] for line in data["shipping_lines"] if line["method_title"]), ""),
        )


def is_paid(data: dict) -> bool:
    return data["status"] in PAID_STATUSES or bool(data["date_paid_gmt"] or data["date_paid"])


def _with_email(address: Address, email: str) -> Address:
    return Address(**{**vars(address), "email": address.email or email})
