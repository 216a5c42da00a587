"""The normalized cart order: what every cart platform's order becomes before it enters Kafka."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from marshmallow import EXCLUDE, Schema, fields, post_load


@dataclass
class Address:
    name: str = ""
    company: str = ""
    street: str = ""
    street2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""  # as the cart sends it (ISO 3166 alpha-2 for all three carts)
    phone: str = ""
    email: str = ""

    def is_empty(self) -> bool:
        return not (self.street or self.city or self.zip)


@dataclass
class OrderLine:
    cart_line_id: str
    sku: str | None
    quantity: int
    unit_price: float
    requires_shipping: bool = True


@dataclass
class CartOrder:
    cart_order_id: str  # the cart's API id: what the tracking flow needs to reach the order again
    name: str  # what the shopper and merchant see, e.g. "#1001"
    created_at: str
    updated_at: str  # ISO-8601 with an offset: the order's version (later = newer), compared as a time
    paid: bool  # each platform's schema applies its own paid rule (docs/orders.md)
    cancelled: bool
    lines: list[OrderLine]
    bill_to: Address = field(default_factory=Address)
    ship_to: Address = field(default_factory=Address)
    email: str = ""
    currency: str = ""
    shipping_method: str = ""
    cart_status: str = ""  # the cart's own status word, for the reasons ops read (e.g. "cancelled", "11")
    # The cart says every line has already gone out (fulfilled, completed, shipped): someone else shipped it.
    fulfilled_in_cart: bool = False

    def version(self) -> datetime:
        """`updated_at` as an aware time, so versions from different offsets compare correctly."""
        return parse_version(self.updated_at)

    def to_dict(self) -> dict:
        # Built by hand: dataclasses.asdict deep-copies every value, a measurable cost per webhook.
        return {**vars(self), "lines": [dict(vars(line)) for line in self.lines],
                "bill_to": dict(vars(self.bill_to)), "ship_to": dict(vars(self.ship_to))}


class AddressSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(load_default="")
    company = fields.String(load_default="")
    street = fields.String(load_default="")
    street2 = fields.String(load_default="")
    city = fields.String(load_default="")
    state = fields.String(load_default="")
    zip = fields.String(load_default="")
    country = fields.String(load_default="")
    phone = fields.String(load_default="")
    email = fields.String(load_default="")

    @post_load
    def _make(self, data: dict, **kwargs) -> Address:
        return Address(**data)


class OrderLineSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    cart_line_id = fields.String(required=True)
    sku = fields.String(allow_none=True, required=True)
    quantity = fields.Integer(required=True)
    unit_price = fields.Float(required=True)
    requires_shipping = fields.Boolean(load_default=True)

    @post_load
    def _make(self, data: dict, **kwargs) -> OrderLine:
        return OrderLine(**data)


class CartOrderSchema(Schema):
    """Reads a normalized order back out of an envelope's payload."""

    class Meta:
        unknown = EXCLUDE

    cart_order_id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    paid = fields.Boolean(required=True)
    cancelled = fields.Boolean(required=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True)
    bill_to = fields.Nested(AddressSchema, load_default=Address)
    ship_to = fields.Nested(AddressSchema, load_default=Address)
    email = fields.String(load_default="")
    currency = fields.String(load_default="")
    shipping_method = fields.String(load_default="")
    cart_status = fields.String(load_default="")
    fulfilled_in_cart = fields.Boolean(load_default=False)  # absent from events published before it existed

    @post_load
    def _make(self, data: dict, **kwargs) -> CartOrder:
        return CartOrder(**data)


def parse_version(text: str) -> datetime:
    """An ISO-8601 time; one without an offset is UTC (WooCommerce's `*_gmt` fields have none)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def utc_iso(moment: datetime) -> str:
    """The canonical `updated_at` text: UTC, seconds, explicit offset."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat(timespec="seconds")
