"""Shapes the tracking flow reads: the shipment event's payload, and the Infoplus order a shipment belongs to."""
from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from schemas.infoplus import ShipmentRecord

SHIPPED_STATUS = "shipped"
# Shipment statuses that mean the label was cancelled: such a carton never reaches the shopper.
VOID_STATUSES = frozenset({"void", "voided", "cancelled", "canceled"})


class ShipmentPayloadSchema(Schema):
    """The normalized ShipmentRecord on `infoplus.shipments` (events.infoplus.shipment_event writes it)."""

    class Meta:
        unknown = EXCLUDE  # newer producers may add fields

    order_no = fields.Float(required=True)
    lob_id = fields.Integer(required=True)
    tracking_no = fields.String(required=True, validate=validate.Length(min=1))
    carrier_company = fields.String(load_default="", allow_none=True)
    ship_date = fields.String(load_default="", allow_none=True)
    status = fields.String(load_default="", allow_none=True)
    carton_no = fields.Integer(load_default=None, allow_none=True)
    number_of_cartons = fields.Integer(load_default=None, allow_none=True)
    shipment_id = fields.Integer(load_default=None, allow_none=True)
    modified_at = fields.String(load_default="", allow_none=True)

    @post_load
    def _make(self, data: dict, **kwargs) -> ShipmentRecord:
        for name in ("carrier_company", "ship_date", "status", "modified_at"):
            data[name] = data[name] or ""
        return ShipmentRecord(**data)


def order_number(order_no: float) -> str:
    """An Infoplus orderNo as people write it: 1234 for a parent, 1234.001 for a backorder child."""
    return f"{order_no:.3f}".rstrip("0").rstrip(".")


@dataclass
class InfoplusOrderLine:
    sku: str
    ordered: int
    shipped: int


@dataclass
class InfoplusOrder:
    """The parts of an Infoplus Order the tracking flow needs (`GET order/{orderNo}`)."""

    order_no: float
    lob_id: int
    order_source_id: int | None
    customer_order_no: str
    status: str
    lines: list[InfoplusOrderLine] = field(default_factory=list)

    @property
    def number(self) -> str:
        return order_number(self.order_no)

    @property
    def shipped_whole_alone(self) -> bool:
        """Not a backorder child and every line shipped in full: no other order of its family can exist (a child is
        split off only for what the parent could not ship), so the family need not be searched."""
        shipped = self.shipped_by_sku()
        ordered: dict[str, int] = {}
        for line in self.lines:
            ordered[line.sku] = ordered.get(line.sku, 0) + line.ordered
        return float(self.order_no).is_integer() and bool(ordered) and shipped == ordered

    def shipped_by_sku(self) -> dict[str, int]:
        """SKU -> units shipped. An order Infoplus calls Shipped whose lines carry no shippedQty shipped whole."""
        whole = self.status.lower() == SHIPPED_STATUS and not any(line.shipped for line in self.lines)
        totals: dict[str, int] = {}
        for line in self.lines:
            quantity = line.ordered if whole else line.shipped
            if quantity > 0:
                totals[line.sku] = totals.get(line.sku, 0) + quantity
        return totals


class InfoplusOrderLineSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    sku = fields.String(required=True)
    orderedQty = fields.Float(load_default=0, allow_none=True)
    shippedQty = fields.Float(load_default=0, allow_none=True)  # absent until the line ships

    @post_load
    def _make(self, data: dict, **kwargs) -> InfoplusOrderLine:
        return InfoplusOrderLine(data["sku"], int(data["orderedQty"] or 0), int(data["shippedQty"] or 0))


class InfoplusOrderSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the Order record has ~150 fields

    orderNo = fields.Float(required=True)
    lobId = fields.Integer(required=True)
    orderSourceId = fields.Integer(load_default=None, allow_none=True)
    customerOrderNo = fields.String(load_default="", allow_none=True)
    status = fields.String(load_default="", allow_none=True)
    lineItems = fields.List(fields.Nested(InfoplusOrderLineSchema), load_default=list)

    @post_load
    def _make(self, data: dict, **kwargs) -> InfoplusOrder:
        return InfoplusOrder(order_no=data["orderNo"], lob_id=data["lobId"], order_source_id=data["orderSourceId"],
                             customer_order_no=data["customerOrderNo"] or "", status=data["status"] or "",
                             lines=data["lineItems"])
