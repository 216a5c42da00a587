"""One entry of the connection registry (DESIGN.md, "Connection registry")."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

PLATFORMS = ("shopify", "woocommerce", "bigcommerce", "magento")

# Credentials each platform needs; checked at load time so a half-filled entry stops startup.
REQUIRED_BY_PLATFORM = {
    "shopify": ("store_url", "webhook_secret", "access_token"),
    "woocommerce": ("store_url", "webhook_secret", "consumer_key", "consumer_secret"),
    "bigcommerce": ("store_hash", "webhook_secret", "access_token"),
    "magento": ("store_url", "access_token"),  # no webhooks: orders are polled (consumers/magento_orders.py)
}
# Magento signs with OAuth 1.0a when a consumer key is given; then all four integration credentials are needed.
MAGENTO_OAUTH = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


@dataclass(frozen=True)
class Connection:
    """A Shopping Cart Connection: one cart store linked to one Infoplus LOB, with its three switches."""

    id: int
    name: str
    platform: str
    lob_id: int
    order_source_id: int
    warehouse_id: int
    default_carrier_id: int
    webhook_secret: str = ""  # required by every platform that sends webhooks (REQUIRED_BY_PLATFORM)
    sync_orders: bool = False
    sync_inventory: bool = False
    sync_tracking_data: bool = False
    store_url: str | None = None
    access_token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    store_hash: str | None = None
    api_base_url: str = "https://api.bigcommerce.com"
    location_id: str | None = None
    # Magento: the store view in the REST path (`/rest/<store_code>/V1/`, default "default"), the OAuth 1.0a token
    # secret, and the Inventory Management source whose quantities are set.
    store_code: str | None = None
    access_token_secret: str | None = None
    source_code: str = "default"
    # Backorder items stay sellable at zero stock (DESIGN.md); true makes this cart stop selling at zero instead.
    stop_sales_at_zero: bool = False
    # Tracking (consumers/tracking.py): tell the shopper when a fulfillment is made (Shopify notifyCustomer,
    # WooCommerce customer note vs private note); whether the WooCommerce Shipment Tracking extension is installed.
    notify_customer: bool = True
    woocommerce_shipment_tracking: bool = False
    # Go-live guard (consumers/orders.py): cart orders created before this moment are never created in Infoplus.
    orders_since: datetime | None = None
    # Shopify "Fulfilled by Infoplus" (carts/shopify/fulfillment_service.py): the store sends this connection
    # fulfillment and cancellation requests for the fulfillment service whose location is `location_id`; orders are
    # created from the requests, not from order webhooks. False: a merchant-managed location, as before.
    fulfillment_service: bool = False
    # Events of this connection a consumer process works on at once; None: CONNECTION_MAX_IN_FLIGHT (settings).
    max_in_flight: int | None = None

    # Where the three sync switches are read: this file, or Infoplus's ShoppingCartConnection record.
    switches_from: str = "file"
    # Flows in preview ("inventory", "tracking"): their switch reads as off, so nothing that does not know about
    # preview ever writes; the consumers read the cart and record what they would write (code `preview`).
    # Written `sync_inventory: preview` / `sync_tracking_data: preview`; with `switches_from: infoplus` it holds
    # back an on switch (Infoplus off stays off): infoplus/switches.py.
    previews: frozenset[str] = frozenset()

    def previewing(self, flow: str) -> bool:
        """True when `flow` ("inventory" or "tracking") is in preview: read and record, never write."""
        return flow in self.previews

    def __repr__(self) -> str:  # never print credentials
        return f"Connection(id={self.id}, name={self.name!r}, platform={self.platform})"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS = re.compile(r"\s*\d+\s*")


class WrittenInt(int):
    """An integer as the YAML file wrote it: `location_id: 007` reads as 7 in YAML, but is the text `007`.

    config/connections.py's loader makes every YAML integer one of these, so a text field given a number
    keeps exactly what the operator typed (a secret or store hash of digits, a leading zero)."""

    written: str

    def __new__(cls, value: int, written: str) -> "WrittenInt":
        number = super().__new__(cls, value)
        number.written = written
        return number


class Text(fields.String):
    """Text that may be written as a number: `location_id: 1` (BigCommerce ids are integers), a store hash or a
    secret of digits. A number becomes the text it was written as; true/false and 1.5 are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = value.written if isinstance(value, WrittenInt) else str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Credential(Text):
    """A secret or token, taken exactly as written: surrounding whitespace or a control character (a Kubernetes
    secret made `--from-file` ends in a newline) is refused, naming the field and never showing the value — sent
    as a header it would fail every call, and requests' error would quote it into logs and dead letters."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text != text.strip():
            raise ValidationError("has whitespace around it (a file-made secret often ends in a newline): remove it")
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
            raise ValidationError("holds a control character: remove it")
        return text


class WholeNumber(fields.Integer):
    """An id written as a number or as digits in quotes (`lob_id: "10000"`, or a `${VAR}`, which is always
    text); true/false, 1.5 and "10k" are refused rather than rounded or guessed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            value = int(value)
        return super()._validated(value)


PREVIEW = "preview"
PREVIEWABLE = {"sync_inventory": "inventory", "sync_tracking_data": "tracking"}  # switch -> flow


class Switch(fields.Boolean):
    """true / false, or `preview` (Sync Inventory and Sync Tracking Data: read the cart and record what would be
    written, write nothing). Anything else is refused, never read as off."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> bool | str:
        if isinstance(value, str) and value.strip().lower() == PREVIEW:
            return PREVIEW
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            raise ValidationError(f"{value!r} is not a switch: true, false or preview") from None


class GoLiveMoment(fields.Field):
    """`2026-11-01` (midnight UTC) or `2026-11-01T00:00:00-05:00`.

    A date-time without an offset is refused: a go-live guard off by a time zone lets hours of old orders
    through (or holds new ones back), so the operator must say which midnight is meant.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> datetime:
        moment = _parse_go_live(value.strip()) if isinstance(value, str) else None
        if moment is None:
            raise ValidationError(f"{value!r} is not an ISO 8601 date (2026-11-01) or date-time with an offset "
                                  f"(2026-11-01T00:00:00-05:00)")
        if moment.tzinfo is None:
            raise ValidationError(f"{value!r} has no offset: add one (Z, -05:00 ...), or give a plain date for "
                                  f"midnight UTC")
        return moment


def _parse_go_live(text: str) -> datetime | None:
    try:
        if _ISO_DATE.fullmatch(text):
            return datetime.combine(date.fromisoformat(text), time(), timezone.utc)
        if _ISO_DATE.match(text) and text[10:11] in ("T", " "):  # the extended form only: no week dates
            return datetime.fromisoformat(text)
    except ValueError:
        pass
    return None


def _https_unless_loopback(url: str) -> None:
    """Credentials ride in headers: in clear only to this machine, where local development and tests run."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
        return
    raise ValidationError(f"must be https:// (http:// only on a loopback host such as 127.0.0.1 or localhost), "
                          f"not {parts.scheme}://")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConnectionSchema(Schema):
    class Meta:
        unknown = RAISE  # a misspelt switch must not silently read as "off"

    id = WholeNumber(required=True)
    name = Text(required=True, validate=validate.Length(min=1))
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    lob_id = WholeNumber(required=True)
    order_source_id = WholeNumber(required=True)
    warehouse_id = WholeNumber(required=True)
    default_carrier_id = WholeNumber(required=True)
    webhook_secret = Credential(validate=validate.Length(min=1))
    sync_orders = fields.Boolean(load_default=False)
    sync_inventory = Switch(load_default=False)  # true | false | preview
    sync_tracking_data = Switch(load_default=False)  # true | false | preview
    store_url = fields.Url(require_tld=False, validate=_https_unless_loopback)
    access_token = Credential()
    consumer_key = Credential()
    consumer_secret = Credential()
    store_hash = Text()
    api_base_url = fields.Url(require_tld=False, validate=_https_unless_loopback)
    location_id = Text()
    store_code = Text(validate=validate.Regexp(r"^[A-Za-z0-9_]+$", error="a store view code is letters, digits "
                                                                           "and underscores"))
    access_token_secret = Credential()
    source_code = Text(validate=validate.Length(min=1))
    stop_sales_at_zero = fields.Boolean(load_default=False)
    notify_customer = fields.Boolean(load_default=True)
    woocommerce_shipment_tracking = fields.Boolean(load_default=False)
    orders_since = GoLiveMoment(allow_none=True)  # unset or empty: no go-live guard
    fulfillment_service = fields.Boolean(load_default=False)
    max_in_flight = WholeNumber(allow_none=True, validate=validate.Range(min=1, max=64))

    switches_from = fields.String(load_default="file", validate=validate.OneOf(("file", "infoplus")))

    @validates_schema
    def _platform_credentials(self, data: dict, **kwargs) -> None:
        missing = [name for name in REQUIRED_BY_PLATFORM.get(data.get("platform"), ()) if not data.get(name)]
        if missing:
            raise ValidationError({name: [f"required for platform {data['platform']}"] for name in missing})

    @validates_schema
    def _magento_oauth(self, data: dict, **kwargs) -> None:
        if data.get("platform") == "magento" and data.get("consumer_key"):
            missing = [name for name in MAGENTO_OAUTH if not data.get(name)]
            if missing:
                raise ValidationError({name: ["required for Magento OAuth 1.0a (consumer_key is given)"]
                                       for name in missing})

    @validates_schema
    def _fulfillment_service(self, data: dict, **kwargs) -> None:
        if data.get("fulfillment_service") and data.get("platform") != "shopify":
            raise ValidationError({"fulfillment_service": ["only a Shopify connection can be a fulfillment service"]})
        if data.get("fulfillment_service") and not data.get("location_id"):
            raise ValidationError({"location_id": ["required with fulfillment_service: the service's location, as "
                                                   "cartbridge-shopify-fulfillment-service prints it"]})

    @validates_schema
    def _bigcommerce_location(self, data: dict, **kwargs) -> None:
        """BigCommerce location ids are integers (sent as JSON numbers): say so at load, not at the first write."""
        location = data.get("location_id")
        if data.get("platform") == "bigcommerce" and location is not None and not _DIGITS.fullmatch(location):
            raise ValidationError({"location_id": [f"a BigCommerce location id is a whole number, not {location!r}"]})

    @post_load
    def _make(self, data: dict, **kwargs) -> Connection:
        data["previews"] = frozenset(flow for switch, flow in PREVIEWABLE.items() if data.get(switch) == PREVIEW)
        for switch in PREVIEWABLE:
            data[switch] = data.get(switch) is True  # preview reads as off to everything that writes
        if data.get("location_id") is not None:
            data["location_id"] = data["location_id"].strip()
        for name in ("store_url", "api_base_url"):
            if data.get(name):
                data[name] = data[name].rstrip("/")
        return Connection(**data)
