"""Infoplus records that enter cartbridge (pushed or polled): Item (inventory) and Shipment (tracking)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from marshmallow import EXCLUDE, Schema, fields, post_load, validate


@dataclass
class InventoryLevel:
    """One item's Orderable Quantity, as of `modified_at`."""

    lob_id: int
    sku: str
    orderable_quantity: int
    backorder: bool
    modified_at: str

    def to_dict(self) -> dict:
        return asdict(self)

    def version(self) -> datetime:
        """`modified_at` as an aware time (no offset = UTC), so versions compare across offsets."""
        moment = datetime.fromisoformat(self.modified_at)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class ShipmentRecord:
    """One shipped carton of an Infoplus order."""

    order_no: float
    lob_id: int
    tracking_no: str
    carrier_company: str
    ship_date: str
    status: str
    carton_no: int | None = None
    number_of_cartons: int | None = None
    shipment_id: int | None = None
    modified_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class _Backorder(fields.Field):
    """Infoplus's Item.backorder is a string ("Yes"/"No" in its KB); booleans are accepted too."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("yes", "y", "true", "no", "n", "false"):
            return value.strip().lower() in ("yes", "y", "true")
        raise self.make_error("invalid")

    default_error_messages = {"invalid": "must be Yes or No"}


class InfoplusItemSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the Item record has ~100 fields; these are the ones inventory sync reads

    lobId = fields.Integer(required=True, strict=True)
    sku = fields.String(required=True, validate=validate.Length(min=1))
    orderableQuantity = fields.Integer(required=True, strict=True)
    backorder = _Backorder(load_default=False)
    modifyDate = fields.DateTime(required=True)

    @post_load
    def _make(self, data: dict, **kwargs) -> InventoryLevel:
        return InventoryLevel(lob_id=data["lobId"], sku=data["sku"], orderable_quantity=data["orderableQuantity"],
                              backorder=data["backorder"], modified_at=data["modifyDate"].isoformat())


class InventoryLevelSchema(Schema):
    """An `infoplus.inventory` event's payload (InventoryLevel.to_dict()) read back by the inventory consumer."""

    class Meta:
        unknown = EXCLUDE  # newer producers may add fields

    lob_id = fields.Integer(required=True, strict=True)
    sku = fields.String(required=True, validate=validate.Length(min=1))
    orderable_quantity = fields.Integer(required=True, strict=True)
    backorder = fields.Boolean(required=True)
    modified_at = fields.DateTime(required=True)

    @post_load
    def _make(self, data: dict, **kwargs) -> InventoryLevel:
        return InventoryLevel(**{**data, "modified_at": data["modified_at"].isoformat()})


class InfoplusShipmentSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(load_default=None, allow_none=True)
    orderNo = fields.Float(required=True)
    lobId = fields.Integer(required=True, strict=True)
    trackingNo = fields.String(required=True, validate=validate.Length(min=1))
    carrierCompany = fields.String(load_default="", allow_none=True)
    shipDate = fields.DateTime(required=True)
    status = fields.String(load_default="", allow_none=True)
    cartonNo = fields.Integer(load_default=None, allow_none=True)
    numberOfCartons = fields.Integer(load_default=None, allow_none=True)
    modifyDate = fields.DateTime(load_default=None, allow_none=True)

    @post_load
    def _make(self, data: dict, **kwargs) -> ShipmentRecord:
        return ShipmentRecord(
            order_no=data["orderNo"], lob_id=data["lobId"], tracking_no=data["trackingNo"],
            carrier_company=data["carrierCompany"] or "", ship_date=data["shipDate"].isoformat(),
            status=data["status"] or "", carton_no=data["cartonNo"], number_of_cartons=data["numberOfCartons"],
            shipment_id=data["id"], modified_at=data["modifyDate"].isoformat() if data["modifyDate"] else "")
