"""Local stand-in for the BigCommerce Management API (reference/cart-apis.md §3).

Paths are `/stores/{store_hash}/v2/...` and `/stores/{store_hash}/v3/...` under `api_base_url`,
authenticated by the `X-Auth-Token` header. v2 answers errors as a list
(`[{"status": 400, "message": "..."}]`), v3 as one object (`{"status", "title", "type",
"errors"}`).

Behaviours copied from BigCommerce because they bite clients:
- every answer carries the `X-Rate-Limit-*` headers; over the quota (or after
  `rate_limit_next(n)`) the answer is 429 with `X-Rate-Limit-Requests-Left: 0` and
  `X-Rate-Limit-Time-Reset-Ms` — and no `Retry-After`;
- a v2 collection with nothing in it is `204 No Content` with an empty body, not `[]`;
- orders are thin: products and shipping addresses are separate calls;
- a shipment must name its `order_address_id` and items; it may not ship more than is left,
  and it moves the order to Shipped (2) or Partially Shipped (3) and emails the customer.

Point a connection at it with `api_base_url: <standin.api_base_url>` and `store_hash`.
"""
from __future__ import annotations

import copy
import itertools
import math
import threading
import time
import uuid
import zlib
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from .httpserver import HttpError, Request, Response, StandIn, json_response, ok, route

STATUSES = {0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
            5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup",
            9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
            12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded"}
SHIPPED, PARTIALLY_SHIPPED = 2, 3
#: `shipping_provider` values the v2 shipments API accepts ("" = custom; `carrier_<id>` too).
SHIPPING_PROVIDERS = frozenset({"", "auspost", "canadapost", "endicia", "usps", "fedex",
                                "royalmail", "ups", "upsready", "upsonline", "shipperhq"})
DEFAULT_LOCATION, MAX_ADJUSTMENT_ITEMS = 1, 2000
STATUS_DOC = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
DEFAULT_PRODUCTS = ({"sku": "SKU-1", "quantity": 1, "price": "19.99"},)


# ---- errors ------------------------------------------------------------------------------------
def v2_error(status: int, message: str) -> HttpError:
    return HttpError(status, [{"status": status, "message": message}])


def v3_body(status: int, title: str, errors: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"status": status, "title": title, "type": STATUS_DOC, "errors": dict(errors or {})}


def v3_error(status: int, title: str, errors: Mapping[str, str] | None = None) -> HttpError:
    return HttpError(status, v3_body(status, title, errors))


def _error_body(req_path: str, status: int, message: str) -> Any:
    """The error shape of the API version the path belongs to."""
    return v3_body(status, message) if "/v3/" in req_path else [{"status": status,
                                                                  "message": message}]


# ---- payload pieces ----------------------------------------------------------------------------
def rfc2822(moment: datetime | None = None) -> str:
    """BigCommerce v2 dates: `Tue, 20 Nov 2012 00:00:00 +0000`."""
    return format_datetime((moment or datetime.now(timezone.utc)).astimezone(timezone.utc))


def money(value: float) -> str:
    return f"{value:.4f}"  # v2 sends amounts as strings with four decimals


def stable_id(text: str, base: int) -> int:
    return base + zlib.crc32(text.encode()) % 9000


def bc_address(first: str = "Jane", last: str = "Doe", company: str = "",
               email: str = "jane.doe@example.com") -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "company": company,
            "street_1": "455 Main Street", "street_2": "Suite 4", "city": "Austin",
            "state": "Texas", "zip": "78751", "country": "United States", "country_iso2": "US",
            "phone": "+1 555-625-1199", "email": email}


class _RateWindow:
    """BigCommerce's fixed window: `quota` requests per `window_ms`, shared by the store."""

    def __init__(self, quota: int, window_ms: int) -> None:
        self.quota, self.window_ms = quota, window_ms
        self.started, self.used = time.monotonic(), 0
        self.forced, self.forced_reset_ms = 0, 0

    def reset_ms(self) -> int:
        elapsed = (time.monotonic() - self.started) * 1000
        if elapsed >= self.window_ms:
            self.started, self.used, elapsed = time.monotonic(), 0, 0
        return max(1, math.ceil(self.window_ms - elapsed))

    def take(self) -> int | None:
        """Use one request; answers the reset time when refused, None when let through."""
        if self.forced > 0:
            self.forced -= 1
            return self.forced_reset_ms
        reset = self.reset_ms()
        if self.used >= self.quota:
            return reset
        self.used += 1
        return None

    def headers(self, left: int | None = None, reset_ms: int | None = None) -> dict[str, str]:
        reset = self.reset_ms() if reset_ms is None else reset_ms
        return {"X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
                "X-Rate-Limit-Time-Reset-Ms": str(reset),
                "X-Rate-Limit-Requests-Quota": str(self.quota),
                "X-Rate-Limit-Requests-Left": str(self.quota - self.used if left is None
                                                  else left)}


class BigCommerceStandIn(StandIn):
    """One BigCommerce store: v2 orders (products, shipping addresses, shipments) and v3
    catalog variants with per-location inventory.

    Seed with `add_order` and `add_variant`; read back with `order`, `order_products`,
    `shipments`, `inventory`, `adjustments` and `emails`. `quota` / `window_ms` set the rate
    window (150 per 30 s, as on a Standard plan).
    """

    name = "bigcommerce"

    def __init__(self, store_hash: str = "abc123", access_token: str = "bc_test", port: int = 0,
                 quota: int = 150, window_ms: int = 30_000,
                 locations: Iterable[int] = (DEFAULT_LOCATION,)) -> None:
        self.store_hash, self.access_token = store_hash, access_token
        # Routes are compiled under this prefix, so another store hash is simply not found.
        self.path_prefix = f"/stores/{store_hash}/"
        self._initial_locations = [int(loc) for loc in locations]
        self._state_lock = threading.RLock()
        self._rate = _RateWindow(quota, window_ms)
        self.throttled = 0  # 429s sent
        self.reset_state()
        super().__init__(port)

    def reset_state(self) -> None:
        with self._state_lock:
            self.locations = list(self._initial_locations)
            self.disabled_locations: set[int] = set()
            self._orders: dict[int, dict[str, Any]] = {}
            self._hooks: dict[int, dict[str, Any]] = {}
            self._hook_ids = itertools.count(22000)
            self._variants: list[dict[str, Any]] = []
            self._levels: dict[tuple[str, int], int] = {}
            self._adjustments: list[dict[str, Any]] = []
            self._emails: list[dict[str, Any]] = []
            self._ids = {kind: itertools.count(start) for kind, start in (
                ("order", 100), ("order_product", 194), ("address", 128), ("shipment", 1))}

    @property
    def api_base_url(self) -> str:
        """What a connection's `api_base_url` should be (paths go on `/stores/{hash}/...`)."""
        return self.base_url

    # ---- HTTP plumbing ---------------------------------------------------------------------
    def dispatch(self, req: Request) -> Response:
        """Rate limiting first, then the usual faults/auth/handler; every answer (errors and
        injected faults included) carries the rate-limit headers."""
        found = self._match(req)
        if found is not None and found.public:
            return super().dispatch(req)
        with self._state_lock:
            refused_reset = self._rate.take()
            if refused_reset is not None:
                self.throttled += 1
                return (429, self._rate.headers(left=0, reset_ms=refused_reset),
                        v3_body(429, "Too many requests"))
        status, headers, body = super().dispatch(req)
        with self._state_lock:
            return status, {**self._rate.headers(), **headers}, body

    def rate_limit_next(self, n: int = 1, reset_ms: int = 1000) -> None:
        """The next `n` API calls answer 429 (Requests-Left 0, Reset-Ms `reset_ms`)."""
        with self._state_lock:
            self._rate.forced, self._rate.forced_reset_ms = n, reset_ms

    def reset_faults(self) -> None:
        super().reset_faults()
        with self._state_lock:
            self._rate = _RateWindow(self._rate.quota, self._rate.window_ms)
            self.throttled = 0

    def authenticate(self, req: Request) -> Response | None:
        if req.headers.get("X-Auth-Token") != self.access_token:
            return json_response(401, _error_body(req.path, 401, "You have not been "
                                 "authenticated. Please check your X-Auth-Token."))
        return None

    def not_found(self, req: Request) -> Response:
        return json_response(404, _error_body(req.path, 404, "The requested resource was not "
                                                             "found."))

    def fault_body(self, status: int) -> Any:
        return v3_body(status, "Too many requests" if status == 429
                       else f"Injected fault: HTTP {status}")

    @route("GET", r"/_sandbox/state", public=True)
    def _sandbox_state(self, req: Request) -> Response:
        """Read-only debug view of orders, variants, inventory, adjustments and emails."""
        return ok(self.state())

    # ---- v2 orders -------------------------------------------------------------------------
    @route("GET", r"v2/orders/(?P<id>\d+)")
    def _get_order(self, req: Request) -> Response:
        with self._state_lock:
            return ok(self._order_view(self._stored(req.params["id"])))

    @route("PUT", r"v2/orders/(?P<id>\d+)")
    def _update_order(self, req: Request) -> Response:
        body = _v2_body(req)
        with self._state_lock:
            stored = self._stored(req.params["id"])
            if "status_id" in body:
                if _int(body["status_id"]) not in STATUSES:
                    raise v2_error(400, "The field 'status_id' is invalid.")
                _set_status(stored["order"], int(body["status_id"]))
            for field in ("customer_message", "staff_notes"):
                if field in body:
                    stored["order"][field] = str(body[field])
            stored["order"]["date_modified"] = rfc2822()
            return ok(self._order_view(stored))

    @route("GET", r"v2/orders/(?P<id>\d+)/products")
    def _order_products(self, req: Request) -> Response:
        with self._state_lock:
            return v2_list(self._stored(req.params["id"])["products"])

    @route("GET", r"v2/orders/(?P<id>\d+)/shipping_addresses")
    def _shipping_addresses(self, req: Request) -> Response:
        with self._state_lock:
            return v2_list(self._stored(req.params["id"])["addresses"])

    @route("GET", r"v2/orders/(?P<id>\d+)/shipments")
    def _list_shipments(self, req: Request) -> Response:
        with self._state_lock:
            return v2_list(self._stored(req.params["id"])["shipments"])

    @route("GET", r"v2/orders/(?P<id>\d+)/shipments/(?P<sid>\d+)")
    def _get_shipment(self, req: Request) -> Response:
        with self._state_lock:
            found = [s for s in self._stored(req.params["id"])["shipments"]
                     if s["id"] == int(req.params["sid"])]
        if not found:
            raise v2_error(404, "The requested resource was not found.")
        return ok(copy.deepcopy(found[0]))

    @route("POST", r"v2/orders/(?P<id>\d+)/shipments")
    def _create_shipment(self, req: Request) -> Response:
        body = _v2_body(req)
        with self._state_lock:
            stored = self._stored(req.params["id"])
            address, items = self._validate_shipment(stored, body)
            return 201, {}, self._ship(stored, address, items, body)

    def _validate_shipment(self, stored: dict[str, Any],
                           body: Mapping[str, Any]) -> tuple[dict, list[tuple[dict, int]]]:
        for field in ("order_address_id", "items"):
            if body.get(field) in (None, "", []):
                raise v2_error(400, f"The required field '{field}' was not supplied.")
        address = next((a for a in stored["addresses"]
                        if a["id"] == _int(body["order_address_id"])), None)
        if address is None:
            raise v2_error(400, "The field 'order_address_id' is invalid.")
        provider = str(body.get("shipping_provider") or "")
        if provider not in SHIPPING_PROVIDERS and not provider.startswith("carrier_"):
            raise v2_error(400, "The field 'shipping_provider' is invalid.")
        if not isinstance(body["items"], list):
            raise v2_error(400, "The field 'items' is invalid.")
        return address, _shipment_items(stored["products"], address["id"], body["items"])

    def _ship(self, stored: dict[str, Any], address: dict[str, Any],
              items: list[tuple[dict, int]], body: Mapping[str, Any]) -> dict[str, Any]:
        for product, qty in items:
            product["quantity_shipped"] += qty
        address["items_shipped"] = sum(p["quantity_shipped"] for p in stored["products"]
                                       if p["order_address_id"] == address["id"])
        order = stored["order"]
        order["items_shipped"] = sum(p["quantity_shipped"] for p in stored["products"])
        done = order["items_shipped"] >= order["items_total"]
        _set_status(order, SHIPPED if done else PARTIALLY_SHIPPED)
        order["date_modified"] = rfc2822()
        if done:
            order["date_shipped"] = order["date_modified"]
        shipment = self._shipment_record(order, address, items, body)
        stored["shipments"].append(shipment)
        self._emails.append({"order_id": order["id"], "to": order["billing_address"]["email"],
                             "template": "shipment", "shipment_id": shipment["id"],
                             "tracking_number": shipment["tracking_number"]})
        return copy.deepcopy(shipment)

    def _shipment_record(self, order: dict[str, Any], address: dict[str, Any],
                         items: list[tuple[dict, int]], body: Mapping[str, Any]) -> dict[str, Any]:
        provider = str(body.get("shipping_provider") or "")
        return {"id": next(self._ids["shipment"]), "order_id": order["id"],
                "customer_id": order["customer_id"], "order_address_id": address["id"],
                "date_created": rfc2822(),
                "tracking_number": str(body.get("tracking_number") or ""),
                "merchant_shipping_cost": money(0), "shipping_method": address["shipping_method"],
                "comments": str(body.get("comments") or ""), "shipping_provider": provider,
                "shipping_provider_display_name": provider.upper() if provider else "Custom",
                "tracking_carrier": str(body.get("tracking_carrier") or ""),
                "tracking_link": str(body.get("tracking_link") or ""),
                "billing_address": copy.deepcopy(order["billing_address"]),
                "shipping_address": {k: v for k, v in address.items()
                                     if k in bc_address()},
                "items": [{"order_product_id": p["id"], "product_id": p["product_id"],
                           "quantity": qty} for p, qty in items]}

    def _stored(self, order_id: str | int) -> dict[str, Any]:
        found = self._orders.get(int(order_id))
        if found is None:
            raise v2_error(404, "The requested resource was not found.")
        return found

    @staticmethod
    def _order_view(stored: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(stored["order"])

    # ---- shipment updates (PUT v2 .../shipments/{id}; added for the tracking consumer) -------
    @route("PUT", r"v2/orders/(?P<id>\d+)/shipments/(?P<sid>\d+)")
    def _update_shipment(self, req: Request) -> Response:
        """Change a shipment's tracking fields or comments (no new customer email)."""
        body = _v2_body(req)
        with self._state_lock:
            found = [s for s in self._stored(req.params["id"])["shipments"]
                     if s["id"] == int(req.params["sid"])]
            if not found:
                raise v2_error(404, "The requested resource was not found.")
            provider = str(body.get("shipping_provider", found[0]["shipping_provider"]) or "")
            if provider not in SHIPPING_PROVIDERS and not provider.startswith("carrier_"):
                raise v2_error(400, "The field 'shipping_provider' is invalid.")
            for field in ("tracking_number", "comments", "shipping_provider", "tracking_carrier",
                          "tracking_link"):
                if field in body:
                    found[0][field] = str(body[field] or "")
            return ok(copy.deepcopy(found[0]))

    # ---- v3 catalog and inventory ----------------------------------------------------------
    @route("GET", r"v3/catalog/variants")
    def _list_variants(self, req: Request) -> Response:
        skus = [s for s in (req.query.get("sku:in") or req.query.get("sku") or "").split(",")
                if s]
        page, limit = _v3_paging(req)
        with self._state_lock:
            rows = [self._variant_view(v) for v in self._variants
                    if not skus or v["sku"] in skus]
        pages = max(1, math.ceil(len(rows) / limit))
        meta = {"pagination": {"total": len(rows), "count": len(rows[(page - 1) * limit:
                                                                       page * limit]),
                               "per_page": limit, "current_page": page, "total_pages": pages,
                               "links": {"current": f"?page={page}&limit={limit}"}}}
        return ok({"data": rows[(page - 1) * limit: page * limit], "meta": meta})

    @route("PUT", r"v3/inventory/adjustments/absolute")
    def _absolute_adjustment(self, req: Request) -> Response:
        if req.json_error or not isinstance(req.json, dict):
            raise v3_error(400, "Input is invalid")
        with self._state_lock:
            changes = self._adjustment_plan(req.json.get("items"))
            for key, quantity in changes:
                self._levels[key] = quantity
            transaction = str(uuid.uuid4())
            self._adjustments.append({"transaction_id": transaction,
                                      "reason": req.json.get("reason"),
                                      "items": copy.deepcopy(req.json["items"])})
        return ok({"transaction_id": transaction})

    def _adjustment_plan(self, items: Any) -> list[tuple[tuple[str, int], int]]:
        """Every ((sku, location), quantity) to set, or a 422 naming each bad item; nothing is
        applied unless every item is good."""
        if not isinstance(items, list) or not items:
            raise v3_error(422, "JSON data is missing or invalid",
                           {"items": "items must contain at least one item"})
        if len(items) > MAX_ADJUSTMENT_ITEMS:
            raise v3_error(422, "JSON data is missing or invalid",
                           {"items": f"at most {MAX_ADJUSTMENT_ITEMS} items per request"})
        plan, errors = [], {}
        for i, item in enumerate(items):
            target, problem = self._adjustment_target(item if isinstance(item, dict) else {})
            if problem:
                errors[f"items.{i}"] = problem
            else:
                plan.append(target)
        if errors:
            raise v3_error(422, "Inventory adjustment could not be applied", errors)
        return plan

    def _adjustment_target(self, item: Mapping[str, Any]) -> tuple[Any, str | None]:
        given = [k for k in ("sku", "variant_id", "product_id") if item.get(k) not in (None, "")]
        if len(given) != 1:
            return None, "exactly one of sku, variant_id or product_id is required"
        quantity = _int(item.get("quantity"))
        if quantity is None or quantity < 0:
            return None, "quantity must be a whole number, 0 or more"
        location = _int(item.get("location_id"))
        if location not in self.locations:
            return None, f"location_id {item.get('location_id')!r} was not found"
        variant, problem = self._variant_for(given[0], item[given[0]])
        if problem:
            return None, problem
        return ((variant["sku"], location), quantity), None

    def _variant_for(self, field: str, value: Any) -> tuple[dict | None, str | None]:
        if field == "sku":
            found = [v for v in self._variants if v["sku"] == str(value)]
        else:
            key = "id" if field == "variant_id" else "product_id"
            found = [v for v in self._variants if v[key] == _int(value)]
        if not found:
            return None, f"{field} {value!r} was not found"
        if len(found) > 1:  # a product with options tracks stock per variant
            return None, f"product {value} has variants; inventory is tracked per variant"
        return found[0], None

    def _variant_view(self, variant: Mapping[str, Any]) -> dict[str, Any]:
        level = sum(q for (sku, _), q in self._levels.items() if sku == variant["sku"])
        return {"id": variant["id"], "product_id": variant["product_id"], "sku": variant["sku"],
                "sku_id": variant["id"] + 1000, "price": float(variant["price"]),
                "calculated_price": float(variant["price"]), "inventory_level": level,
                "inventory_warning_level": 0, "purchasing_disabled": False,
                "purchasing_disabled_message": "", "option_values": []}

    # ---- v2 order list, v3 webhooks and locations (what cartbridge-connect reads) --------------
    @route("GET", r"v2/orders")
    def _list_orders(self, req: Request) -> Response:
        limit, page = _int(req.query.get("limit") or 50) or 50, _int(req.query.get("page") or 1) or 1
        with self._state_lock:
            rows = [self._order_view(o) for o in sorted(self._orders.values(), key=lambda o: o["id"])]
        return v2_list(rows[(page - 1) * limit: page * limit])

    @route("GET", r"v3/hooks")
    def _list_hooks(self, req: Request) -> Response:
        page, limit = _v3_paging(req)
        with self._state_lock:
            rows = [dict(h) for h in sorted(self._hooks.values(), key=lambda h: h["id"])]
        pages = max(1, math.ceil(len(rows) / limit))
        meta = {"pagination": {"total": len(rows), "per_page": limit, "current_page": page, "total_pages": pages}}
        return ok({"data": rows[(page - 1) * limit: page * limit], "meta": meta})

    @route("POST", r"v3/hooks")
    def _create_hook(self, req: Request) -> Response:
        body = _hook_body(req, creating=True)
        with self._state_lock:
            hook_id = next(self._hook_ids)
            now = int(time.time())
            self._hooks[hook_id] = {"id": hook_id, "client_id": "cartbridge-app", "store_hash": self.store_hash,
                                    "scope": body["scope"], "destination": body["destination"],
                                    "is_active": body.get("is_active", True), "headers": body.get("headers"),
                                    "created_at": now, "updated_at": now}
            return ok({"data": dict(self._hooks[hook_id]), "meta": {}})

    @route("PUT", r"v3/hooks/(?P<id>\d+)")
    def _update_hook(self, req: Request) -> Response:
        body = _hook_body(req, creating=False)
        with self._state_lock:
            hook = self._hook_or_404(req.params["id"])
            hook.update({k: body[k] for k in ("scope", "destination", "is_active", "headers") if k in body},
                        updated_at=int(time.time()))
            return ok({"data": dict(hook), "meta": {}})

    @route("DELETE", r"v3/hooks/(?P<id>\d+)")
    def _delete_hook(self, req: Request) -> Response:
        with self._state_lock:
            hook = self._hook_or_404(req.params["id"])
            del self._hooks[hook["id"]]
            return ok({"data": dict(hook), "meta": {}})

    def _hook_or_404(self, hook_id: str) -> dict[str, Any]:
        found = self._hooks.get(int(hook_id))
        if found is None:
            raise v3_error(404, "Webhook not found")
        return found

    @route("GET", r"v3/inventory/locations")
    def _list_locations(self, req: Request) -> Response:
        wanted = {int(x) for x in (req.query.get("location_id:in") or "").split(",") if x.strip().isdigit()}
        with self._state_lock:
            rows = [{"id": loc, "code": f"BC-LOCATION-{loc}", "label": "Default location" if loc == 1
                     else f"Location {loc}", "enabled": loc not in self.disabled_locations,
                     "type_id": "PHYSICAL"} for loc in self.locations if not wanted or loc in wanted]
        return ok({"data": rows, "meta": {}})

    def hooks(self) -> list[dict[str, Any]]:
        with self._state_lock:
            return [dict(h) for h in sorted(self._hooks.values(), key=lambda h: h["id"])]

    def add_hook(self, scope: str, destination: str, **fields: Any) -> dict[str, Any]:
        """A hook this app made earlier (a test helper)."""
        with self._state_lock:
            hook_id = next(self._hook_ids)
            self._hooks[hook_id] = {"id": hook_id, "scope": scope, "destination": destination, "is_active": True,
                                    **fields}
            return dict(self._hooks[hook_id])

    # ---- test helpers (Python, not HTTP) ---------------------------------------------------
    def add_order(self, order_id: int | None = None, status_id: int = 11,
                  products: Iterable[Mapping[str, Any]] = DEFAULT_PRODUCTS,
                  billing: Mapping[str, Any] | None = None,
                  shipping: Mapping[str, Any] | None = None, customer_message: str = "",
                  shipping_method: str = "Flat Rate", **fields: Any) -> dict[str, Any]:
        """Store an order with one shipping address holding every product. `products` are
        `{"sku", "quantity", "price"}`; their product/variant ids come from the catalog when the
        SKU is in it. Returns the v2 order (`order_products` / `shipping_addresses` for more)."""
        with self._state_lock:
            order_id = int(order_id or next(self._ids["order"]))
            address = self._new_address(order_id, shipping, shipping_method)
            lines = [self._new_order_product(order_id, address["id"], p) for p in products]
            address["items_total"] = sum(p["quantity"] for p in lines)
            order = self._new_order(order_id, status_id, lines, billing, customer_message, fields)
            self._orders[order_id] = {"order": order, "products": lines,
                                      "addresses": [address], "shipments": []}
            return copy.deepcopy(order)

    def _new_order(self, order_id: int, status_id: int, lines: list[dict[str, Any]],
                   billing: Mapping[str, Any] | None, message: str,
                   fields: Mapping[str, Any]) -> dict[str, Any]:
        stamp, total = rfc2822(), sum(float(p["base_total"]) for p in lines)
        link = self._sub_resource
        return {"id": order_id, "customer_id": 0, "date_created": stamp, "date_modified": stamp,
                "date_shipped": "", "status_id": status_id, "status": STATUSES[status_id],
                "custom_status": STATUSES[status_id], "subtotal_ex_tax": money(total),
                "subtotal_inc_tax": money(total), "subtotal_tax": money(0),
                "base_shipping_cost": money(0), "shipping_cost_ex_tax": money(0),
                "shipping_cost_inc_tax": money(0), "total_ex_tax": money(total),
                "total_inc_tax": money(total), "total_tax": money(0),
                "items_total": sum(p["quantity"] for p in lines), "items_shipped": 0,
                "payment_method": "Credit Card", "payment_status": "captured",
                "currency_code": "USD", "default_currency_code": "USD",
                "customer_message": message, "staff_notes": "", "order_source": "www",
                "is_deleted": False, "billing_address": dict(billing or bc_address()),
                "products": link(order_id, "products"),
                "shipping_addresses": link(order_id, "shipping_addresses"),
                "coupons": link(order_id, "coupons"), **fields}

    def _sub_resource(self, order_id: int, part: str) -> dict[str, str]:
        """v2 orders link their parts instead of embedding them."""
        return {"url": self.url(f"v2/orders/{order_id}/{part}"),
                "resource": f"/orders/{order_id}/{part}"}

    def _new_address(self, order_id: int, shipping: Mapping[str, Any] | None,
                     method: str) -> dict[str, Any]:
        return {"id": next(self._ids["address"]), "order_id": order_id,
                **(dict(shipping) if shipping else bc_address()), "items_total": 0,
                "items_shipped": 0, "shipping_method": method, "base_cost": money(0),
                "cost_ex_tax": money(0), "cost_inc_tax": money(0), "shipping_zone_id": 1,
                "shipping_zone_name": "United States"}

    def _new_order_product(self, order_id: int, address_id: int,
                           line: Mapping[str, Any]) -> dict[str, Any]:
        sku, qty, price = str(line.get("sku") or ""), int(line.get("quantity", 1)), float(
            line.get("price", "19.99"))
        variant = next((v for v in self._variants if v["sku"] == sku), None)
        return {"id": next(self._ids["order_product"]), "order_id": order_id,
                "product_id": variant["product_id"] if variant else stable_id(sku, 77),
                "variant_id": variant["id"] if variant else stable_id(sku, 1000),
                "order_address_id": address_id, "name": f"Sample item {sku}", "sku": sku,
                "type": "physical", "base_price": money(price), "price_ex_tax": money(price),
                "price_inc_tax": money(price), "price_tax": money(0),
                "base_total": money(price * qty), "total_ex_tax": money(price * qty),
                "total_inc_tax": money(price * qty), "quantity": qty, "quantity_shipped": 0,
                "quantity_refunded": 0, "is_refunded": False, "product_options": []}

    def order(self, order_id: int) -> dict[str, Any] | None:
        with self._state_lock:
            found = self._orders.get(int(order_id))
            return copy.deepcopy(found["order"]) if found else None

    def order_products(self, order_id: int) -> list[dict[str, Any]]:
        with self._state_lock:
            return copy.deepcopy(self._orders[int(order_id)]["products"])

    def shipping_addresses(self, order_id: int) -> list[dict[str, Any]]:
        with self._state_lock:
            return copy.deepcopy(self._orders[int(order_id)]["addresses"])

    def shipments(self, order_id: int) -> list[dict[str, Any]]:
        with self._state_lock:
            return copy.deepcopy(self._orders[int(order_id)]["shipments"])

    def set_order_status(self, order_id: int, status_id: int) -> dict[str, Any]:
        """Change the status as the merchant would (bumps `date_modified`)."""
        with self._state_lock:
            order = self._orders[int(order_id)]["order"]
            _set_status(order, status_id)
            order["date_modified"] = rfc2822()
            return copy.deepcopy(order)

    def add_location(self, location_id: int) -> None:
        with self._state_lock:
            self.locations.append(int(location_id))

    def add_variant(self, sku: str, quantity: int = 0, location_id: int = DEFAULT_LOCATION,
                    product_id: int | None = None, variant_id: int | None = None,
                    price: str = "19.99") -> dict[str, Any]:
        """Create a variant (its own product unless `product_id` is given) stocked with
        `quantity` at `location_id`; answers the v3 variant view."""
        with self._state_lock:
            if any(v["sku"] == sku for v in self._variants):
                raise ValueError(f"SKU {sku} already exists")
            variant = {"id": variant_id or stable_id(sku, 1000),
                       "product_id": product_id or stable_id(sku, 77), "sku": sku,
                       "price": price}
            self._variants.append(variant)
            self._levels[(sku, int(location_id))] = int(quantity)
            return self._variant_view(variant)

    def inventory(self, sku: str, location_id: int = DEFAULT_LOCATION) -> int | None:
        """The stock level of a SKU at a location (None if never stocked there)."""
        with self._state_lock:
            return self._levels.get((sku, int(location_id)))

    @property
    def adjustments(self) -> list[dict[str, Any]]:
        """Every accepted absolute adjustment: `{transaction_id, reason, items}`."""
        with self._state_lock:
            return copy.deepcopy(self._adjustments)

    @property
    def emails(self) -> list[dict[str, Any]]:
        """Customer emails the store would have sent (one per shipment)."""
        with self._state_lock:
            return copy.deepcopy(self._emails)

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            levels = [{"sku": sku, "location_id": loc, "quantity": q}
                      for (sku, loc), q in self._levels.items()]
            return copy.deepcopy({"orders": list(self._orders.values()),
                                  "variants": [self._variant_view(v) for v in self._variants],
                                  "inventory": levels, "adjustments": self._adjustments,
                                  "emails": self._emails})


# ---- small pure helpers ----------------------------------------------------------------------
def v2_list(rows: list[dict[str, Any]]) -> Response:
    """A v2 collection: the rows, or `204 No Content` with no body when there are none."""
    return (200, {}, copy.deepcopy(rows)) if rows else (204, {}, None)


def _hook_body(req: Request, *, creating: bool) -> dict[str, Any]:
    """BigCommerce's refusals: a known scope, an https destination on port 443 (the stand-in also takes http on a
    loopback host, where bin/dev runs)."""
    if req.json_error or not isinstance(req.json, dict):
        raise v3_error(400, "Input is invalid")
    body = req.json
    if (creating or "scope" in body) and not str(body.get("scope") or "").startswith("store/"):
        raise v3_error(422, "JSON data is missing or invalid", {"scope": "scope is required and must be valid"})
    if creating or "destination" in body:
        target = urlsplit(str(body.get("destination") or ""))
        loopback = target.scheme == "http" and target.hostname in ("127.0.0.1", "localhost")
        if not loopback and (target.scheme != "https" or target.port not in (None, 443)):
            raise v3_error(422, "JSON data is missing or invalid",
                           {"destination": "destination must be a valid https URL on port 443"})
    return body


def _v2_body(req: Request) -> dict[str, Any]:
    if req.json_error or not isinstance(req.json, dict):
        raise v2_error(400, "The request body is not a valid JSON object.")
    return req.json


def _v3_paging(req: Request) -> tuple[int, int]:
    page, limit = _int(req.query.get("page") or 1), _int(req.query.get("limit") or 50)
    if page is None or limit is None or page < 1 or not 1 <= limit <= 250:
        raise v3_error(422, "Invalid paging", {"limit": "page >= 1 and 1 <= limit <= 250"})
    return page, limit


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def _set_status(order: dict[str, Any], status_id: int) -> None:
    order.update(status_id=status_id, status=STATUSES[status_id],
                 custom_status=STATUSES[status_id])


def _shipment_items(products: list[dict[str, Any]], address_id: int,
                    items: list[Any]) -> list[tuple[dict[str, Any], int]]:
    """(order product, quantity) pairs for a shipment; 400 if an item is unknown, belongs to
    another address, or asks for more than is left to ship."""
    by_id = {p["id"]: p for p in products}
    wanted: dict[int, int] = {}
    for item in items:
        item = item if isinstance(item, dict) else {}
        product, qty = by_id.get(_int(item.get("order_product_id"))), _int(item.get("quantity"))
        if product is None or product["order_address_id"] != address_id:
            raise v2_error(400, f"The order product {item.get('order_product_id')!r} is not "
                                f"part of order address {address_id}.")
        if qty is None or qty < 1:
            raise v2_error(400, "The field 'quantity' is invalid.")
        wanted[product["id"]] = wanted.get(product["id"], 0) + qty
    for product_id, qty in wanted.items():
        left = by_id[product_id]["quantity"] - by_id[product_id]["quantity_shipped"]
        if qty > left:
            raise v2_error(400, f"The quantity specified for order product {product_id} is "
                                f"greater than the quantity remaining to ship ({left}).")
    return [(by_id[pid], qty) for pid, qty in wanted.items()]
