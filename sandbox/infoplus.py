"""Local stand-in for the Infoplus WMS REST API v3.0 (reference/infoplus-api.md).

Everything lives under `/infoplus-wms/api/v3.0/`, needs the `API-Key` header, and answers errors as
`{"errors": ["..."]}`. Point the product at it with `INFOPLUS_BASE_URL=<standin.base_url>`.

Adding a resource (items, shipments, shoppingCartConnection) is a `Table` plus a few routes, e.g.::

    self.shipments = Table("id", SHIPMENT_FIELDS)          # in __init__ / reset_state
    @route("GET", r"shipment/search")
    def _search_shipments(self, req): return self.search(self.shipments, req)
"""
from __future__ import annotations

import copy
import math
import threading
from datetime import datetime, timezone
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


def fail(status: int, *messages: str) -> HttpError:
    """An error answer in Infoplus's shape."""
    return HttpError(status, {"errors": list(messages)})


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


class InfoplusStandIn(StandIn):
    """The Infoplus API as the service sees it: orders now; items, shipments and
    shopping-cart connections slot in as further `Table`s and routes.

    `known_skus` (LOB id -> set of SKUs), when set, makes orders with other SKUs fail with
    422 "Item not found: SKU"; a LOB missing from the dict has no items at all.
    """

    name = "infoplus"
    path_prefix = API_PREFIX

    def __init__(self, api_key: str = "test-key", port: int = 0,
                 known_skus: Mapping[int, Iterable[str]] | None = None) -> None:
        self.api_key = api_key
        self.known_skus = ({int(lob): set(skus) for lob, skus in known_skus.items()}
                           if known_skus is not None else None)
        self._number_lock = threading.Lock()
        self.reset_state()
        super().__init__(port)

    def reset_state(self) -> None:
        self.order_table = Table("orderNo", ORDER_FIELDS)
        self._next_order_no = FIRST_ORDER_NO

    @property
    def api_url(self) -> str:
        """`{base_url}/infoplus-wms/api/v3.0/` (the product wants `base_url`)."""
        return self.url()

    # ---- HTTP ------------------------------------------------------------------------------
    def authenticate(self, req: Request) -> Response | None:
        if req.headers.get("API-Key") != self.api_key:
            return json_response(401, {"errors": ["Invalid API Key"]})
        return None

    def not_found(self, req: Request) -> Response:
        return json_response(404, {"errors": [f"Not found: {req.method} {req.path}"]})

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

    @route("GET", r"/_sandbox/orders", public=True)
    def _sandbox_orders(self, req: Request) -> Response:
        """Read-only debug view: every stored order, no API key needed."""
        return ok(self.orders)

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
