"""Local stand-in for the Infoplus WMS REST API v3.0 (reference/infoplus-api.md).

Everything lives under `/infoplus-wms/api/v3.0/`, needs the `API-Key` header, and answers errors as
`{"errors": ["..."]}`. Point the product at it with `INFOPLUS_BASE_URL=<standin.base_url>`.

Resources: orders (`POST order`, `GET order/search`, `GET order/{orderNo}`), items
(`GET item/getBySKU`, `GET item/search`, `GET item/{id}`), shipments (`GET shipment/search`,
`GET shipment/{id}`) and shopping-cart connections (`GET shoppingCartConnection/search`,
`GET shoppingCartConnection/{id}`). Each is a `Table` plus a few routes; the Python helpers
(`add_item`, `set_orderable`, `add_shipment`, `ship_order_lines`, `add_backorder_child`,
`add_connection`, `set_switch`, ...) seed and change records, always bumping `modifyDate`.

Infoplus publishes no rate-limit contract; third parties report 3 requests/s per API user and 10
per site. `rate_limit(per_second)` makes the stand-in enforce the first per API key and
`site_rate_limit(per_second)` the second (429 + `Retry-After: 1`), each counted in a sliding
second (the default) or in the clock's fixed seconds (`window="fixed"`, as some limiters do).
Several API users: `add_api_key(key)`; `revoke_api_key(key)` makes Infoplus answer it 401.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from . import infoplus_filter as filters
from .httpserver import HttpError, Request, Response, StandIn, json_response, ok, route

API_PREFIX = "/infoplus-wms/api/v3.0/"
FIRST_ORDER_NO = 1000
DEFAULT_LIMIT, MAX_LIMIT = 20, 250

_ADDRESS = ("Company", "Attention", "Street", "Street2", "Street3", "City", "State", "Zip",
            "Country", "Phone", "Email")
#: Order fields a filter may name even before any stored order carries them (SDK `Order` model).
ORDER_FIELDS = frozenset({
    "id", "orderNo", "lobId", "warehouseId", "orderSourceId", "integrationPartnerId",
    "customerOrderNo", "customerNo", "customerPONo", "orderDate", "createDate", "modifyDate",
    "status", "holdCode", "shipDate", "shippedDate", "carrierId", "backOrderStatus",
    "fulfillability", "numberOfCartons", "freight", "total", "subtotal", "tax", "shippingCharge",
    *(f"{side}{part}" for side in ("billTo", "shipTo") for part in _ADDRESS)})


DEFAULT_LOB, DEFAULT_WAREHOUSE = 10000, 1000
FIRST_ITEM_ID, FIRST_SHIPMENT_ID = 77, 9001
_QUANTITIES = ("onHandQuantity", "availableQuantity", "orderableQuantity", "openOrderQuantity",
               "openPOQuantity", "inFulfillmentProcessQuantity", "unallocatableQuantity",
               "unavailableQuantity", "damagedQuantity", "totalDemand")
#: Item fields (SDK `Item` model, the ones a filter is likely to name).
ITEM_FIELDS = frozenset({
    "id", "lobId", "sku", "itemDescription", "status", "backorder", "createDate", "modifyDate",
    "inventoryUpdateTimestamp", "warehouse1Id", "w1OrderableQuantity", "w1AvailableQuantity",
    *_QUANTITIES})
#: Shipment fields (SDK `Shipment` model, v3.0).
SHIPMENT_FIELDS = frozenset({
    "id", "orderNo", "orderNoList", "lobId", "warehouseId", "omsOrderNo", "trackingNo",
    "carrierServiceId", "carrier", "carrierCompany", "status", "shipped", "shipDate",
    "deliveredDate", "createDate", "modifyDate", "cartonNo", "numberOfCartons", "cartonId",
    "shipmentId", "manifestId", "parcelAccountNo", "billingOption", "residential", "weightLbs",
    "dimWeight", "dim1In", "dim2In", "dim3In", "chargedFreightAmount", "publishedFreightAmount",
    "shipmentType", "externalShippingSystemId", "licensePlateNumber", "customFields"})
#: ShoppingCartConnection fields (SDK model, v3.0 == beta).
CONNECTION_FIELDS = frozenset({
    "id", "createDate", "modifyDate", "clientId", "nonce", "lobId", "orderSourceId",
    "integrationPartnerId", "connectionType", "itemFilterId", "infoplusSKUFieldToMap",
    "shoppingCartSKUFieldToMap", "scriptId", "name", "shoppingCartStoreURL", "accessCode",
    "accessToken", "username", "password", "defaultCarrierId", "orderShipmentLevel",
    "createInvoices", "syncOrders", "syncInventory", "syncTrackingData", "syncInventoryCronString",
    "fulfillAllItems", "syncInventoryLevelsLastRunTime", "syncOrdersLastRunTime",
    "inventoryLevelWarehouseControls", "warehouseList", "inventoryLevelStoreControls",
    "storeList", "customFields"})
SWITCHES = {"sync_orders": "syncOrders", "sync_inventory": "syncInventory",
            "sync_tracking_data": "syncTrackingData"}


def item_record(item_id: int, lob_id: int, sku: str, orderable: int, backorder: str,
                stamp: str) -> dict[str, Any]:
    """A realistic Item: every quantity present; on hand = available = orderable (no demand)."""
    quantities = dict.fromkeys(_QUANTITIES, 0)
    quantities.update(onHandQuantity=orderable, availableQuantity=orderable,
                      orderableQuantity=orderable)
    return {"id": item_id, "lobId": lob_id, "sku": sku, "itemDescription": f"Sample item {sku}",
            "status": "Active", "backorder": backorder, **quantities,
            "warehouse1Id": DEFAULT_WAREHOUSE, "w1OrderableQuantity": orderable,
            "w1AvailableQuantity": orderable, "createDate": stamp, "modifyDate": stamp,
            "inventoryUpdateTimestamp": stamp}


def shipment_record(shipment_id: int, order_no: float, tracking_no: str, carrier_company: str,
                    lob_id: int, warehouse_id: int, carton_no: int, number_of_cartons: int,
                    status: str, stamp: str) -> dict[str, Any]:
    """A parcel Shipment as `shipment/search` answers it (reference §5); one per carton."""
    return {"id": shipment_id, "orderNo": order_no, "orderNoList": [order_no], "lobId": lob_id,
            "warehouseId": warehouse_id, "omsOrderNo": None, "trackingNo": tracking_no,
            "carrierServiceId": 12, "carrier": 100, "carrierCompany": carrier_company,
            "status": status, "shipped": status == "Shipped", "shipDate": stamp,
            "deliveredDate": None, "createDate": stamp, "modifyDate": stamp, "cartonNo": carton_no,
            "numberOfCartons": number_of_cartons, "cartonId": f"C{shipment_id}",
            "shipmentId": str(shipment_id), "manifestId": None, "parcelAccountNo": None,
            "billingOption": "Sender", "residential": True, "weightLbs": 1.5, "dimWeight": 1.0,
            "dim1In": 10.0, "dim2In": 8.0, "dim3In": 4.0, "chargedFreightAmount": 9.5,
            "publishedFreightAmount": 11.25, "shipmentType": "Parcel",
            "externalShippingSystemId": None, "licensePlateNumber": None, "customFields": {}}


def connection_record(connection_id: int, lob_id: int, order_source_id: int, switches: Mapping,
                      stamp: str) -> dict[str, Any]:
    """A ShoppingCartConnection; credentials come back null (whether Infoplus masks or returns
    them is unconfirmed, and null is the case that breaks careless clients)."""
    return {"id": connection_id, "createDate": stamp, "modifyDate": stamp, "clientId": 1,
            "nonce": None, "lobId": lob_id, "orderSourceId": order_source_id,
            "integrationPartnerId": 1, "connectionType": "Shopify", "itemFilterId": None,
            "infoplusSKUFieldToMap": "SKU", "shoppingCartSKUFieldToMap": "SKU", "scriptId": None,
            "name": f"Connection {connection_id}", "shoppingCartStoreURL": "https://shop.example/",
            "accessCode": None, "accessToken": None, "username": None, "password": None,
            "defaultCarrierId": None, "orderShipmentLevel": "Order", "createInvoices": False,
            **switches, "syncInventoryCronString": None, "fulfillAllItems": True,
            "syncInventoryLevelsLastRunTime": None, "syncOrdersLastRunTime": None,
            "inventoryLevelWarehouseControls": "All", "warehouseList": [],
            "inventoryLevelStoreControls": "All", "storeList": [], "customFields": {}}


def fail(status: int, *messages: str) -> HttpError:
    """An error answer in Infoplus's shape."""
    return HttpError(status, {"errors": list(messages)})


_clock_lock = threading.Lock()
_last_stamp = datetime.min.replace(tzinfo=timezone.utc)


def now_iso() -> str:
    """The current UTC time in ISO-8601 with milliseconds, strictly increasing across calls.

    Two records changed within the same millisecond still get distinct `modifyDate`s, so a
    poller's `modifyDate gt '<last seen>'` never skips or repeats one (reality is less kind, but
    the stand-in must not make tests flaky).
    """
    global _last_stamp
    with _clock_lock:
        now = datetime.now(timezone.utc)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        _last_stamp = max(now, _last_stamp + timedelta(milliseconds=1))
        return _last_stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Table:
    """Thread-safe in-memory records of one Infoplus resource, keyed by one field.

    `search` applies the Infoplus filter grammar; filter fields must be in `fields` or present on
    some stored record, otherwise the search is refused (400) as an unknown field would be.
    """

    def __init__(self, key: str, fields: Iterable[str] = ()) -> None:
        self.key = key
        self.fields = set(fields) | {key}
        self._rows: dict[Any, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, record: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._rows[record[self.key]] = copy.deepcopy(dict(record))
            return copy.deepcopy(self._rows[record[self.key]])

    def get(self, key: Any) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows.get(key)
            return copy.deepcopy(row) if row is not None else None

    def __contains__(self, key: Any) -> bool:
        with self._lock:
            return key in self._rows

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._rows.values()))

    def search(self, filter_text: str | None, sort: str | None = None) -> list[dict[str, Any]]:
        clauses = filters.parse(filter_text)
        rows = self.all()
        filters.check_fields(clauses, self.fields.union(*(r.keys() for r in rows)))
        return filters.sort_records([r for r in rows if filters.matches(r, clauses)], sort)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    """A JSON number or numeric string (Infoplus's JSON binding accepts both), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _order_no(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise fail(404, "Order not found") from None


def _lob_param(text: str | None) -> int:
    if not text:
        raise fail(400, "lobId is required")
    try:
        return int(text)
    except ValueError:
        raise fail(400, "lobId must be a number") from None


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        page, limit = int(query.get("page") or 1), int(query.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise fail(400, "page and limit must be whole numbers") from None
    if page < 1 or limit < 1:
        raise fail(400, "page and limit must be at least 1")
    if limit > MAX_LIMIT:
        raise fail(400, f"limit must be at most {MAX_LIMIT}")
    return page, limit


class _Window:
    """At most `limit` requests a second: in any sliding second (a log of the requests let through)
    or in each second of the clock (`fixed`: a burst across a boundary may see twice the limit)."""

    def __init__(self, limit: int, window: str) -> None:
        if window not in ("sliding", "fixed"):
            raise ValueError(f"window is 'sliding' or 'fixed', not {window!r}")
        self.limit, self.fixed = limit, window == "fixed"
        self._times: deque[float] = deque()

    def admits(self, now: float) -> bool:
        while self._times and self._left(self._times[0], now):
            self._times.popleft()
        return len(self._times) < self.limit

    def _left(self, then: float, now: float) -> bool:
        """Has a request let through at `then` left the window by `now`?"""
        return math.floor(then) < math.floor(now) if self.fixed else now - then >= 1.0

    def count(self, now: float) -> None:
        self._times.append(now)


class InfoplusStandIn(StandIn):
    """The Infoplus API as the service sees it: orders, items, shipments and shopping-cart
    connections, each a `Table` searched with the Infoplus filter grammar.

    `known_skus` (LOB id -> set of SKUs), when set, makes orders with other SKUs fail with
    422 "Item not found: SKU"; a LOB missing from the dict has no items at all. (Items added
    with `add_item` are a separate table and do not feed this check.)
    """

    name = "infoplus"
    path_prefix = API_PREFIX

    def __init__(self, api_key: str = "test-key", port: int = 0,
                 known_skus: Mapping[int, Iterable[str]] | None = None) -> None:
        self.api_key = api_key
        self.api_keys = {api_key}  # every key answered; `add_api_key`, `revoke_api_key`
        self.known_skus = ({int(lob): set(skus) for lob, skus in known_skus.items()}
                           if known_skus is not None else None)
        self._number_lock = threading.Lock()
        self._rate_lock = threading.Lock()
        self._key_limit: tuple[int, str] | None = None  # (per second, window) for every API key
        self._per_key: dict[str, _Window] = {}
        self._site: _Window | None = None
        self.throttled = 0  # 429s sent by `rate_limit` / `site_rate_limit`
        self.traffic: list[tuple[float, str, int]] = []  # (monotonic time, API-Key sent, status) of every call
        self.reset_state()
        super().__init__(port)

    def reset_state(self) -> None:
        self.order_table = Table("orderNo", ORDER_FIELDS)
        self._next_order_no = FIRST_ORDER_NO
        self.item_table = Table("id", ITEM_FIELDS)
        self.shipment_table = Table("id", SHIPMENT_FIELDS)
        self.connection_table = Table("id", CONNECTION_FIELDS)
        self._next_item_id, self._next_shipment_id = FIRST_ITEM_ID, FIRST_SHIPMENT_ID

    @property
    def api_url(self) -> str:
        """`{base_url}/infoplus-wms/api/v3.0/` (the product wants `base_url`)."""
        return self.url()

    # ---- HTTP ------------------------------------------------------------------------------
    def authenticate(self, req: Request) -> Response | None:
        if req.headers.get("API-Key") not in self.api_keys:
            return json_response(401, {"errors": ["Invalid API Key"]})
        return None

    def not_found(self, req: Request) -> Response:
        return json_response(404, {"errors": [f"Not found: {req.method} {req.path}"]})

    def dispatch(self, req: Request) -> Response:
        """The rate limit (when set) comes first: a throttled request reaches nothing else."""
        found = self._match(req)
        if found is None or not found.public:
            refused = self._rate_check(req)
            if refused is not None:
                return refused
        return super().dispatch(req)

    def record(self, req: Request, status: int) -> None:
        super().record(req, status)
        with self._rate_lock:
            self.traffic.append((time.monotonic(), req.headers.get("API-Key") or "", status))

    def clear_calls(self) -> None:
        super().clear_calls()
        with self._rate_lock:
            self.traffic.clear()

    # ---- API users -------------------------------------------------------------------------
    def add_api_key(self, key: str) -> None:
        """Another API user of the same site."""
        self.api_keys.add(key)

    def revoke_api_key(self, key: str) -> None:
        """Infoplus answers this key 401 from now on (an admin deleted the user or its key)."""
        self.api_keys.discard(key)

    # ---- rate limits (faults, cleared by reset_faults) ---------------------------------------
    def rate_limit(self, per_second: int | None, window: str = "sliding") -> None:
        """Answer 429 (`Retry-After: 1`) to an API key's requests beyond `per_second` in any sliding
        1 s window (`window="fixed"`: in any second of the clock); None or 0 lifts the limit.
        Refused requests do not use up the window."""
        with self._rate_lock:
            self._key_limit = (per_second, window) if per_second else None
            self._per_key.clear()

    def site_rate_limit(self, per_second: int | None, window: str = "sliding") -> None:
        """The same for all keys together (Infoplus: about 10/s per site)."""
        with self._rate_lock:
            self._site = _Window(per_second, window) if per_second else None

    def _rate_check(self, req: Request) -> Response | None:
        with self._rate_lock:
            windows = [self._site] if self._site else []
            if self._key_limit is not None:
                key = req.headers.get("API-Key") or ""
                windows.append(self._per_key.setdefault(key, _Window(*self._key_limit)))
            now = time.monotonic()
            if all(window.admits(now) for window in windows):
                for window in windows:
                    window.count(now)
                return None
            self.throttled += 1
            return json_response(429, {"errors": ["Too many requests"]}, {"Retry-After": "1"})

    def reset_faults(self) -> None:
        super().reset_faults()
        self.rate_limit(None)
        self.site_rate_limit(None)
        with self._rate_lock:
            self.throttled = 0

    @route("POST", r"order")
    def _create_order(self, req: Request) -> Response:
        order = self._json_object(req)
        errors = self.order_errors(order)
        if errors:
            raise fail(422, *errors)
        return ok(self._store_new_order(order))

    @route("GET", r"order/search")
    def _search_orders(self, req: Request) -> Response:
        return self.search(self.order_table, req)

    @route("GET", r"order/(?P<order_no>[^/]+)")
    def _get_order(self, req: Request) -> Response:
        order = self.order_table.get(_order_no(req.params["order_no"]))
        if order is None:
            raise fail(404, "Order not found")
        return ok(order)

    # Search and lookup routes come before `{id}` routes: the first matching route wins.
    @route("GET", r"item/getBySKU")
    def _item_by_sku(self, req: Request) -> Response:
        lob_id, sku = _lob_param(req.query.get("lobId")), req.query.get("sku")
        if not sku:
            raise fail(400, "sku is required")
        found = self.item(lob_id, sku)
        if found is None:
            raise fail(404, f"Item not found: {sku}")
        return ok(found)

    @route("GET", r"item/search")
    def _search_items(self, req: Request) -> Response:
        return self.search(self.item_table, req)

    @route("GET", r"item/(?P<id>[^/]+)")
    def _get_item(self, req: Request) -> Response:
        return ok(self._by_id(self.item_table, req.params["id"], "Item"))

    @route("GET", r"shipment/search")
    def _search_shipments(self, req: Request) -> Response:
        return self.search(self.shipment_table, req)

    @route("GET", r"shipment/(?P<id>[^/]+)")
    def _get_shipment(self, req: Request) -> Response:
        return ok(self._by_id(self.shipment_table, req.params["id"], "Shipment"))

    @route("GET", r"shoppingCartConnection/search")
    def _search_connections(self, req: Request) -> Response:
        return self.search(self.connection_table, req)

    @route("GET", r"shoppingCartConnection/(?P<id>[^/]+)")
    def _get_connection(self, req: Request) -> Response:
        return ok(self._by_id(self.connection_table, req.params["id"], "ShoppingCartConnection"))

    # ---- the records a connection names (what cartbridge-connect checks) ----------------------
    @route("GET", r"(?P<resource>lineOfBusiness|warehouse|orderSource|carrier)/(?P<id>[^/]+)")
    def _get_reference(self, req: Request) -> Response:
        found = self.references.get(req.params["resource"], {}).get(req.params["id"])
        if found is None:
            raise fail(404, f"{req.params['resource']} not found")
        return ok(dict(found))

    @property
    def references(self) -> dict[str, dict[str, dict[str, Any]]]:
        """resource -> id (as text) -> record. Seeded with what the tests' and bin/dev's connections name: LOB
        10000, warehouse 1000, order sources 55-58 of LOB 10000, carrier 1; add or remove records to test."""
        if not hasattr(self, "_references"):
            self._references = {
                "lineOfBusiness": {"10000": {"id": 10000, "name": "Sample LOB"}},
                "warehouse": {"1000": {"id": 1000, "name": "Main Warehouse"}},
                "orderSource": {str(n): {"id": n, "lobId": 10000, "name": f"Cart {n}"} for n in (55, 56, 57, 58)},
                "carrier": {"1": {"id": 1, "label": "UPS Ground", "carrier": 100}},
            }
        return self._references

    @staticmethod
    def _by_id(table: Table, text: str, kind: str) -> dict[str, Any]:
        row = table.get(int(text)) if text.isdigit() else None
        if row is None:
            raise fail(404, f"{kind} not found")
        return row

    @route("GET", r"/_sandbox/orders", public=True)
    def _sandbox_orders(self, req: Request) -> Response:
        """Read-only debug view: every stored order, no API key needed."""
        return ok(self.orders)

    @route("GET", r"/_sandbox/state", public=True)
    def _sandbox_state(self, req: Request) -> Response:
        """Read-only debug view of orders, items, shipments and connections."""
        return ok(self.state())

    def search(self, table: Table, req: Request) -> Response:
        """`GET <resource>/search`: filter, sort, then page; answers a bare JSON array."""
        page, limit = _paging(req.query)
        try:
            rows = table.search(req.query.get("filter"), req.query.get("sort"))
        except filters.FilterError as err:
            raise fail(400, str(err)) from None
        return ok(rows[(page - 1) * limit: page * limit])

    @staticmethod
    def _json_object(req: Request) -> dict[str, Any]:
        if req.json_error or not isinstance(req.json, dict):
            raise fail(400, "Request body must be a JSON object")
        return req.json

    # ---- validation ------------------------------------------------------------------------
    def order_errors(self, order: Mapping[str, Any]) -> list[str]:
        """Every reason Infoplus would refuse this order (empty when it is acceptable)."""
        errors = [f"{name} is required" for name in ("lobId", "warehouseId", "billToCompany")
                  if _blank(order.get(name))]
        errors += [f"{name} must be a number" for name in ("lobId", "warehouseId", "orderSourceId",
                                                           "carrierId")
                   if not _blank(order.get(name)) and _number(order.get(name)) is None]
        errors += self._ship_to_errors(order)
        errors += self._line_errors(order.get("lineItems"))
        return errors or self._sku_errors(order)

    @staticmethod
    def _ship_to_errors(order: Mapping[str, Any]) -> list[str]:
        # *Company is "Required. Used as the first line of the address" for either address.
        has_ship_to = any(not _blank(order.get(f"shipTo{p}")) for p in _ADDRESS)
        if has_ship_to and _blank(order.get("shipToCompany")):
            return ["shipToCompany is required when a ship-to address is given"]
        return []

    @staticmethod
    def _line_errors(lines: Any) -> list[str]:
        if lines is None:
            return ["lineItems is required"]
        if not isinstance(lines, list) or not lines:
            return ["lineItems must contain at least one line item"]
        errors = []
        for i, line in enumerate(lines):
            line = line if isinstance(line, dict) else {}
            if _blank(line.get("sku")):
                errors.append(f"lineItems[{i}].sku is required")
            qty = _number(line.get("orderedQty"))
            if qty is None or qty <= 0 or qty != int(qty):
                errors.append(f"lineItems[{i}].orderedQty must be a whole number greater than 0")
        return errors

    def _sku_errors(self, order: Mapping[str, Any]) -> list[str]:
        if self.known_skus is None:
            return []
        known = self.known_skus.get(int(_number(order["lobId"]) or 0), set())
        return [f"Item not found: {line['sku']}" for line in order["lineItems"]
                if line["sku"] not in known]

    # ---- storage ---------------------------------------------------------------------------
    def _store_new_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        with self._number_lock:
            number = float(self._next_order_no)
            self._next_order_no += 1
        stored = self._with_defaults(order, number)
        stored["lineItems"] = [{"lobId": order["lobId"], **line} for line in order["lineItems"]]
        return self.order_table.put(stored)

    @staticmethod
    def _with_defaults(order: Mapping[str, Any], number: float) -> dict[str, Any]:
        stamp = now_iso()
        # Infoplus assigns these; whatever the client sent for them is ignored.
        return {"orderDate": stamp[:10], **order, "id": number, "orderNo": number,
                "status": "Pending", "createDate": stamp,
                "modifyDate": stamp}

    # ---- test helpers (Python, not HTTP) ---------------------------------------------------
    @property
    def orders(self) -> list[dict[str, Any]]:
        """Copies of every stored order, in creation order."""
        return self.order_table.all()

    def order(self, order_no: float | str) -> dict[str, Any] | None:
        return self.order_table.get(float(order_no))

    def orders_for(self, customer_order_no: Any) -> list[dict[str, Any]]:
        """Every order (backorder children included) carrying this customerOrderNo."""
        return [o for o in self.orders if str(o.get("customerOrderNo")) == str(customer_order_no)]

    def add_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Seed an order without validation, e.g. a backorder child `{"orderNo": 1234.001, ...}`.

        Missing `orderNo` takes the next number; `status`, dates and `id` get defaults.
        """
        with self._number_lock:
            number = float(order.get("orderNo") or self._next_order_no)
            if number in self.order_table:
                raise ValueError(f"order {number} already exists")
            self._next_order_no = max(self._next_order_no, math.floor(number) + 1)
        stamp = now_iso()
        return self.order_table.put({"createDate": stamp, "modifyDate": stamp, "status": "Pending",
                                     "lineItems": [], **order, "orderNo": number,
                                     "id": order.get("id", number)})

    def update_order(self, order_no: float | str, **changes: Any) -> dict[str, Any]:
        """Change a stored order (e.g. `status="Shipped"`) and bump its `modifyDate`."""
        order = self.order(order_no)
        if order is None:
            raise KeyError(f"no order {order_no}")
        return self.order_table.put({**order, "modifyDate": now_iso(), **changes})

    def _order_or_raise(self, order_no: float | str) -> dict[str, Any]:
        order = self.order(order_no)
        if order is None:
            raise KeyError(f"no order {order_no}")
        return order

    def ship_order_lines(self, order_no: float | str,
                         quantities: Mapping[str, int]) -> dict[str, Any]:
        """Add `quantities` ({sku: qty}) to the `shippedQty` of the order's lines.

        The real Shipment record carries no lines, so this is how a consumer can tell a partial
        shipment from `GET order/{orderNo}`. When every line is fully shipped the order becomes
        `status="Shipped"` with a `shippedDate`. Shipping more than is left raises ValueError.
        Lines never shipped have no `shippedQty` at all (read it as 0).
        """
        order = self._order_or_raise(order_no)
        if not quantities:
            return order
        lines = [dict(line) for line in order["lineItems"]]
        for sku, qty in quantities.items():
            _ship_line(lines, sku, int(qty), order["orderNo"])
        changes: dict[str, Any] = {"lineItems": lines}
        if all(_unshipped(line) == 0 for line in lines):
            changes.update(status="Shipped", shippedDate=now_iso())
        return self.update_order(order_no, **changes)

    def add_backorder_child(self, order_no: float | str,
                            line_items: Mapping[str, int] | None = None,
                            **fields: Any) -> dict[str, Any]:
        """Create the backorder order Infoplus splits off: `NNNN.001` (then `.002`, ...).

        It keeps the parent's customerOrderNo, LOB, source and addresses. Its lines are
        `line_items` ({sku: qty}) or, when None, whatever the parent has not shipped yet.
        """
        parent = self._order_or_raise(order_no)
        base = math.floor(parent["orderNo"])
        suffix = next(k for k in range(1, 1000)
                      if round(base + k / 1000, 3) not in self.order_table)
        wanted = dict(line_items) if line_items is not None else _remaining(parent)
        lines = [{**_without(line, "shippedQty"), "orderedQty": wanted[line["sku"]]}
                 for line in parent["lineItems"] if wanted.get(line.get("sku"), 0) > 0]
        lines += [{"lobId": parent.get("lobId"), "sku": sku, "orderedQty": qty}
                  for sku, qty in wanted.items()
                  if qty > 0 and sku not in {line.get("sku") for line in parent["lineItems"]}]
        inherited = _without(parent, "id", "orderNo", "createDate", "modifyDate", "shippedDate",
                             "status", "lineItems")
        return self.add_order({**inherited, "orderNo": round(base + suffix / 1000, 3),
                               "status": "Backorder", "lineItems": lines, **fields})

    # ---- items -----------------------------------------------------------------------------
    @property
    def items(self) -> list[dict[str, Any]]:
        return self.item_table.all()

    def item(self, lob_id: int | str, sku: str) -> dict[str, Any] | None:
        return next((row for row in self.item_table.all()
                     if row["lobId"] == int(lob_id) and row["sku"] == sku), None)

    def add_item(self, lob_id: int, sku: str, orderable_quantity: int, backorder: str = "No",
                 **fields: Any) -> dict[str, Any]:
        """Create an Item (`backorder` is "Yes" or "No"); `fields` override any Item field."""
        if self.item(lob_id, sku) is not None:
            raise ValueError(f"item {sku} already exists in LOB {lob_id}")
        with self._number_lock:
            item_id, self._next_item_id = self._next_item_id, self._next_item_id + 1
        record = item_record(item_id, int(lob_id), sku, int(orderable_quantity), backorder,
                             now_iso())
        return self.item_table.put({**record, **fields})

    def update_item(self, lob_id: int | str, sku: str, **changes: Any) -> dict[str, Any]:
        """Change an item (e.g. `backorder="Yes"`) and bump its `modifyDate`."""
        found = self.item(lob_id, sku)
        if found is None:
            raise KeyError(f"no item {sku} in LOB {lob_id}")
        return self.item_table.put({**found, "modifyDate": now_iso(), **changes})

    def set_orderable(self, lob_id: int | str, sku: str, quantity: int) -> dict[str, Any]:
        """Set the Orderable Quantity (what cart sync pushes); bumps `modifyDate` and
        `inventoryUpdateTimestamp`. On-hand and available follow (orderable + open orders)."""
        found = self.item(lob_id, sku)
        if found is None:
            raise KeyError(f"no item {sku} in LOB {lob_id}")
        stamp, held = now_iso(), int(found.get("openOrderQuantity") or 0)
        return self.update_item(lob_id, sku, orderableQuantity=quantity,
                                w1OrderableQuantity=quantity, availableQuantity=quantity + held,
                                w1AvailableQuantity=quantity + held,
                                onHandQuantity=quantity + held, modifyDate=stamp,
                                inventoryUpdateTimestamp=stamp)

    # ---- shipments -------------------------------------------------------------------------
    @property
    def shipments(self) -> list[dict[str, Any]]:
        return self.shipment_table.all()

    def add_shipment(self, order_no: float | str, tracking_no: str, carrier_company: str = "UPS",
                     lob_id: int | None = None, carton_no: int = 1, number_of_cartons: int = 1,
                     status: str = "Shipped", line_items: Mapping[str, int] | None = None,
                     **fields: Any) -> dict[str, Any]:
        """Record one carton's Shipment (`fields` override any Shipment field).

        When the order is stored here and `status` is "Shipped", its lines are marked shipped
        too (`ship_order_lines`): `line_items` ({sku: qty}), or everything not yet shipped when
        None. LOB and warehouse default to the order's (else 10000 / 1000).
        """
        number = float(order_no)
        order = self.order(number)
        if order is not None and status == "Shipped":
            self.ship_order_lines(number, _remaining(order) if line_items is None else line_items)
        lob = lob_id if lob_id is not None else int((order or {}).get("lobId") or DEFAULT_LOB)
        warehouse = int((order or {}).get("warehouseId") or DEFAULT_WAREHOUSE)
        with self._number_lock:
            ship_id, self._next_shipment_id = self._next_shipment_id, self._next_shipment_id + 1
        record = shipment_record(ship_id, number, tracking_no, carrier_company, lob, warehouse,
                                 carton_no, number_of_cartons, status, now_iso())
        return self.shipment_table.put({**record, **fields})

    def update_shipment(self, shipment_id: int, **changes: Any) -> dict[str, Any]:
        """Change a shipment (e.g. `status="Void"`, `trackingNo=...`) and bump `modifyDate`."""
        found = self.shipment_table.get(int(shipment_id))
        if found is None:
            raise KeyError(f"no shipment {shipment_id}")
        return self.shipment_table.put({**found, "modifyDate": now_iso(), **changes})

    # ---- shopping-cart connections ---------------------------------------------------------
    @property
    def connections(self) -> list[dict[str, Any]]:
        return self.connection_table.all()

    def connection(self, connection_id: int) -> dict[str, Any] | None:
        return self.connection_table.get(int(connection_id))

    def add_connection(self, connection_id: int, lob_id: int, order_source_id: int,
                       sync_orders: bool = True, sync_inventory: bool = True,
                       sync_tracking_data: bool = True, **fields: Any) -> dict[str, Any]:
        """Create a ShoppingCartConnection; `fields` override any field (e.g. `name`,
        `connectionType`, `shoppingCartStoreURL`, `defaultCarrierId`)."""
        if int(connection_id) in self.connection_table:
            raise ValueError(f"connection {connection_id} already exists")
        switches = {"syncOrders": bool(sync_orders), "syncInventory": bool(sync_inventory),
                    "syncTrackingData": bool(sync_tracking_data)}
        record = connection_record(int(connection_id), int(lob_id), int(order_source_id),
                                   switches, now_iso())
        return self.connection_table.put({**record, **fields})

    def update_connection(self, connection_id: int, **changes: Any) -> dict[str, Any]:
        found = self.connection(connection_id)
        if found is None:
            raise KeyError(f"no connection {connection_id}")
        return self.connection_table.put({**found, "modifyDate": now_iso(), **changes})

    def set_switch(self, connection_id: int, field: str, value: bool) -> dict[str, Any]:
        """Flip `syncOrders` / `syncInventory` / `syncTrackingData` (snake_case names work too)."""
        name = SWITCHES.get(field, field)
        if name not in SWITCHES.values():
            raise ValueError(f"not a sync switch: {field}")
        return self.update_connection(connection_id, **{name: bool(value)})

    def state(self) -> dict[str, Any]:
        return {"orders": self.orders, "items": self.items, "shipments": self.shipments,
                "connections": self.connections}


# ---- small pure helpers ----------------------------------------------------------------------
def _unshipped(line: Mapping[str, Any]) -> int:
    return int(_number(line.get("orderedQty")) or 0) - int(line.get("shippedQty") or 0)


def _remaining(order: Mapping[str, Any]) -> dict[str, int]:
    """{sku: quantity not yet shipped} over the order's lines."""
    left: dict[str, int] = {}
    for line in order.get("lineItems") or []:
        if _unshipped(line) > 0:
            left[line["sku"]] = left.get(line["sku"], 0) + _unshipped(line)
    return left


def _ship_line(lines: list[dict[str, Any]], sku: str, qty: int, order_no: float) -> None:
    """Spread `qty` of `sku` over the lines that still have some to ship (lines are mutated)."""
    if qty > sum(_unshipped(line) for line in lines if line.get("sku") == sku):
        raise ValueError(f"order {order_no} has fewer than {qty} of {sku} left to ship")
    for line in lines:
        if line.get("sku") == sku and qty > 0:
            step = min(qty, _unshipped(line))
            line["shippedQty"] = int(line.get("shippedQty") or 0) + step
            qty -= step


def _without(record: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in names}
