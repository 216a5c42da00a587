"""Local stand-in for the Shopify Admin GraphQL API (reference/cart-apis.md §1.2-1.4).

`POST /admin/api/<version>/graphql.json` with header `X-Shopify-Access-Token`. Every request is parsed,
validated against Shopify's own Admin schema (sandbox/schemas/) and its variables coerced before anything runs
(sandbox/shopify_graphql.py); a request Shopify would refuse is refused the same way (HTTP 200 with `errors`) and
fails the test that sent it when the stand-in stops (see `invalid_requests`). Each root field is one method:
`query_<field>` or `mutation_<field>`, taking the coerced arguments and returning the full object; the
schema-driven executor keeps only the fields the client selected. State (variants,
inventory levels, orders with fulfillment orders and fulfillments) is kept in memory and seeded
with the Python helpers (`add_variant`, `add_order`, `add_fulfillment`).

Order connections page as Shopify's do (`first`/`after`, `last`/`before`, at most 250 a page,
`pageInfo`, opaque cursors); `Order.fulfillments` is a plain list that `first` only truncates.

Point a connection at it with `store_url: <standin.base_url>`.
"""
from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterable

from . import schemas
from . import shopify_graphql as gql
from .httpserver import HttpError, Request, Response, StandIn, json_response, ok, route
from .shopify_app import AppInstallationShop
from .shopify_fulfillment import FulfillmentServiceShop

DEFAULT_LOCATION = "gid://shopify/Location/1"
MAX_AVAILABLE, RESTORE_RATE, MAX_QUERY_COST = 2000.0, 100.0, 1000
MAX_PAGE_SIZE = 250
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
#: From 2026-04 each quantity must carry `changeFromQuantity` and compareQuantity is gone.
CHANGE_FROM_REQUIRED_SINCE = "2026-04"
INVENTORY_REASONS = frozenset({
    "correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created",
    "movement_received", "movement_updated", "other", "promotion", "quality_control", "received",
    "reservation_created", "reservation_deleted", "reservation_updated", "restock",
    "safety_stock", "shrinkage"})


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def to_gid(kind: str, value: int | str) -> str:
    """Accept a numeric id or a gid, answer the gid (test helpers take either)."""
    text = str(value)
    return text if text.startswith("gid://") else gid(kind, text)


def legacy_id(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def connection(nodes: list[Any], has_next: bool = False) -> dict[str, Any]:
    """A Relay connection offering both `nodes` and `edges { node cursor }`."""
    edges = [{"node": n, "cursor": f"cursor{i}"} for i, n in enumerate(nodes)]
    return {"nodes": nodes, "edges": edges,
            "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": False,
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


def page(nodes: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    """One page of a Relay connection, as Shopify pages: `first` (+ `after`) or `last` (+ `before`),
    at most 250 records, cursors that name the node they follow (opaque to the client)."""
    size = _page_size(args)
    start = _position(nodes, args["after"]) + 1 if args.get("after") is not None else 0
    end = _position(nodes, args["before"]) if args.get("before") is not None else len(nodes)
    if args.get("first") is not None:
        end = min(end, start + size)
    else:
        start = max(start, end - size)
    edges = [{"node": n, "cursor": _cursor(n)} for n in nodes[start:end]]
    return {"nodes": [e["node"] for e in edges], "edges": edges,
            "pageInfo": {"hasNextPage": end < len(nodes), "hasPreviousPage": start > 0,
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


def truncated(items: list[Any], args: dict[str, Any]) -> list[Any]:
    """A plain list field with an optional `first` ("truncate the array result to this size")."""
    size = args.get("first")
    if size is None:
        return items
    if not isinstance(size, int) or size < 0 or size > MAX_PAGE_SIZE:
        raise gql.GraphQLError(f"The maximum number of records you can request is {MAX_PAGE_SIZE}.")
    return items[:size]


def _page_size(args: dict[str, Any]) -> int:
    size = args.get("first") if args.get("first") is not None else args.get("last")
    if not isinstance(size, int) or size < 0:
        raise gql.GraphQLError("you must provide one of first or last")
    if size > MAX_PAGE_SIZE:
        raise gql.GraphQLError(f"The maximum number of records you can request is {MAX_PAGE_SIZE}.")
    return size


def _cursor(node: dict[str, Any]) -> str:
    raw = json.dumps({"last_id": legacy_id(str(node["id"]))}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _position(nodes: list[dict[str, Any]], cursor: Any) -> int:
    """Index of the node a cursor names; a cursor this connection never gave out is an error."""
    try:
        wanted = str(json.loads(base64.urlsafe_b64decode(str(cursor).encode()))["last_id"])
    except (binascii.Error, ValueError, TypeError, KeyError):
        wanted = None
    found = [i for i, n in enumerate(nodes) if legacy_id(str(n["id"])) == wanted]
    if not found:
        raise gql.GraphQLError("Invalid cursor for current pagination sort.")
    return found[0]


def user_error(field: list[str], message: str, code: str | None = None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


class _Bucket:
    """Shopify's leaky bucket of query-cost points."""

    def __init__(self) -> None:
        self.available, self.stamp = MAX_AVAILABLE, time.monotonic()

    def refill(self) -> float:
        now = time.monotonic()
        self.available = min(MAX_AVAILABLE, self.available + (now - self.stamp) * RESTORE_RATE)
        self.stamp = now
        return self.available

    def status(self, available: float | None = None) -> dict[str, Any]:
        shown = self.available if available is None else available
        return {"maximumAvailable": MAX_AVAILABLE, "currentlyAvailable": int(shown),
                "restoreRate": RESTORE_RATE}


class ShopifyStandIn(AppInstallationShop, FulfillmentServiceShop, StandIn):
    """The Shopify Admin GraphQL API of one shop.

    Throttling is real (2000-point bucket, 100 points/s, 1000 max per query) and can be forced
    with `throttle_next(n)`: HTTP 200 with a THROTTLED error, as Shopify does.
    """

    name = "shopify"

    def __init__(self, access_token: str = "shpat_test", port: int = 0,
                 shop_name: str = "Sandbox Shop",
                 locations: Iterable[str] = (DEFAULT_LOCATION,)) -> None:
        self.access_token = access_token
        self.shop_name = shop_name
        self._initial_locations = [to_gid("Location", loc) for loc in locations]
        self._state_lock = threading.RLock()
        self.invalid_requests: list[dict[str, Any]] = []  # {"query", "errors"}; kept across reset(): see __exit__
        self.reset_state()
        schemas.admin_schema(schemas.newest_version())  # built once per process, not in a first request
        super().__init__(port)

    def __exit__(self, *exc: object) -> None:
        """A test that sent a request Shopify would refuse fails here, naming it (unless it took them back
        with `take_invalid_requests`, or already fails)."""
        super().__exit__(*exc)
        refused = self.take_invalid_requests()
        if refused and exc[0] is None:
            raise AssertionError(f"the Shopify stand-in refused {len(refused)} request(s) as Shopify would "
                                 f"(invalid against the Admin schema): {refused}")

    def take_invalid_requests(self) -> list[dict[str, Any]]:
        """The requests refused as invalid so far (for tests that send them on purpose); forgets them."""
        with self._state_lock:
            taken, self.invalid_requests = self.invalid_requests, []
            return taken

    def reset_state(self) -> None:
        with self._state_lock:
            self._ids = itertools.count(1001)
            self.locations = list(self._initial_locations)
            self._variants: list[dict[str, Any]] = []
            self._levels: dict[tuple[str, str], dict[str, int]] = {}
            self._orders: dict[str, dict[str, Any]] = {}
            self._bucket = _Bucket()
            self._throttles = 0
            self.services: list[dict[str, Any]] = []  # fulfillment services (sandbox/shopify_fulfillment.py)
            self.service_writes = 0
            self._answer_failures = 0
            self.api_version = ""
            self.reset_app_state()  # webhook subscriptions, access scopes (sandbox/shopify_app.py)

    def _new_id(self, kind: str) -> str:
        return gid(kind, next(self._ids))

    # ---- HTTP ------------------------------------------------------------------------------
    def authenticate(self, req: Request) -> Response | None:
        if req.headers.get("X-Shopify-Access-Token") != self.access_token:
            return json_response(401, {"errors": INVALID_TOKEN})
        return None

    def not_found(self, req: Request) -> Response:
        return json_response(404, {"errors": "Not Found"})

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return {"errors": "Exceeded 2 calls per second for api client. Reduce request rates "
                              "to resume uninterrupted service."}
        return {"errors": "Internal Server Error" if status >= 500 else f"HTTP {status}"}

    @route("POST", r"/admin/api/(?P<version>\d{4}-\d{2}|unstable)/graphql\.json")
    def _graphql(self, req: Request) -> Response:
        query, variables, operation_name = self._graphql_payload(req)
        version = req.params["version"]
        schema = schemas.admin_schema(schemas.nearest_version(version))
        prepared = gql.prepare(schema, query, variables, operation_name)
        with self._state_lock:  # one operation at a time, like a single shop's database
            if isinstance(prepared, list):
                self.invalid_requests.append({"query": query, "errors": prepared})
                return ok({"errors": prepared})
            return ok(self._run_operation(schema, prepared, version))

    @route("GET", r"/_sandbox/state", public=True)
    def _sandbox_state(self, req: Request) -> Response:
        """Read-only debug view of variants, inventory levels and orders."""
        return ok(self.state())

    @staticmethod
    def _graphql_payload(req: Request) -> tuple[str, dict[str, Any], str | None]:
        body = req.json if isinstance(req.json, dict) else {}
        if not isinstance(body.get("query"), str):
            raise HttpError(400, {"errors": {"query": "Required parameter missing or invalid"}})
        return body["query"], body.get("variables") or {}, body.get("operationName")

    def _run_operation(self, schema: Any, op: gql.Operation, version: str) -> dict[str, Any]:
        requested = gql.requested_cost(op)
        refused = self._throttle_check(requested)
        if refused is not None:
            return refused
        data, errors = gql.execute(schema, op, lambda kind, name, args: self._resolve(kind, name, args,
                                                                                   version))
        actual = gql.actual_cost(op, data)
        self._bucket.available -= actual
        answer: dict[str, Any] = {"data": data, "extensions": {"cost": {
            "requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": self._bucket.status()}}}
        return {"errors": errors, **answer} if errors else answer

    def _throttle_check(self, requested: int) -> dict[str, Any] | None:
        """The refusal for a query over the limits (run nothing, charge nothing), else None."""
        available = self._bucket.refill()
        if requested > MAX_QUERY_COST:
            return _refusal(requested, self._bucket.status(), "MAX_COST_EXCEEDED",
                            f"Query cost is {requested}, which exceeds the single query max cost "
                            f"limit ({MAX_QUERY_COST}).", cost=requested, maxCost=MAX_QUERY_COST)
        forced = self._throttles > 0
        if not forced and requested <= available:
            return None
        self._throttles -= forced
        # A forced throttle reports an empty bucket so clients exercise their wait computation.
        return _refusal(requested, self._bucket.status(0 if forced else available), "THROTTLED",
                        "Throttled", documentation="https://shopify.dev/api/usage/rate-limits")

    def _resolve(self, kind: str, name: str, args: dict[str, Any], version: str) -> Any:
        handler = getattr(self, f"{kind}_{name}", None)
        if handler is None:  # in Shopify's schema (validation passed) but not in the stand-in
            raise gql.GraphQLError(f"The Shopify stand-in does not implement {kind} field {name!r}: add "
                                   f"{kind}_{name} to sandbox/shopify.py", code="SANDBOX_UNSUPPORTED")
        self.api_version = version  # under the state lock: one operation at a time
        return handler(args)

    def throttle_next(self, n: int = 1) -> None:
        """The next `n` GraphQL calls answer THROTTLED (HTTP 200) without running."""
        with self._state_lock:
            self._throttles += n

    # ---- queries ---------------------------------------------------------------------------
    def query_shop(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"id": gid("Shop", 1), "name": self.shop_name, "currencyCode": "USD",
                "myshopifyDomain": "sandbox-shop.myshopify.com", **self._shop_extras()}

    def query_productVariants(self, args: dict[str, Any]) -> dict[str, Any]:
        size = args.get("first") or args.get("last")
        if not isinstance(size, int):
            raise gql.GraphQLError("you must provide one of first or last")
        if size > 250:
            raise gql.GraphQLError("The maximum number of records you can request is 250.")
        found = [v for v in self._variants if _sku_query_matches(args.get("query"), v["sku"])]
        return page([self._variant_view(v) for v in found], args)  # `after: endCursor` for the next page

    def query_productVariant(self, args: dict[str, Any]) -> dict[str, Any] | None:
        found = [v for v in self._variants if v["id"] == args.get("id")]
        return self._variant_view(found[0]) if found else None

    def query_order(self, args: dict[str, Any]) -> dict[str, Any] | None:
        order = self._orders.get(str(args.get("id")))
        return self._order_view(order) if order else None

    def query_fulfillmentOrder(self, args: dict[str, Any]) -> dict[str, Any] | None:
        found = self._find_fulfillment_order(str(args.get("id")))
        return self._fo_view(*found) if found else None

    # ---- mutations -------------------------------------------------------------------------
    def mutation_inventorySetQuantities(self, args: dict[str, Any]) -> dict[str, Any]:
        payload = args.get("input") or {}
        errors = self._inventory_errors(payload, self.api_version)
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes = [c for q in payload["quantities"] for c in self._set_level(payload["name"], q)]
        group = {"id": self._new_id("InventoryAdjustmentGroup"), "createdAt": now_iso(),
                 "reason": payload["reason"], "changes": changes,
                 "referenceDocumentUri": payload.get("referenceDocumentUri")}
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    def mutation_fulfillmentCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        spec = args.get("fulfillment") or {}
        plan, errors = self._fulfillment_plan(spec.get("lineItemsByFulfillmentOrder") or [])
        if errors:
            return {"fulfillment": None, "userErrors": errors}
        return {"fulfillment": self._fulfillment_view(self._fulfil(plan, spec)), "userErrors": []}

    # ---- variant backorder policy (productVariantsBulkUpdate; added for inventory sync) --------
    def mutation_productVariantsBulkUpdate(self, args: dict[str, Any]) -> dict[str, Any]:
        """Only `inventoryPolicy` is applied (CONTINUE sells at zero stock, DENY stops)."""
        product_id, updates = str(args.get("productId")), args.get("variants") or []
        errors = [e for i, u in enumerate(updates) for e in self._variant_update_errors(i, u, product_id)]
        if errors:
            return {"product": None, "productVariants": None, "userErrors": errors}
        by_id = {v["id"]: v for v in self._variants}
        for update in updates:
            if "inventoryPolicy" in update:
                by_id[update["id"]]["inventoryPolicy"] = update["inventoryPolicy"]
        changed = [self._variant_view(by_id[u["id"]]) for u in updates]
        return {"product": {"id": product_id}, "productVariants": changed, "userErrors": []}

    def _variant_update_errors(self, i: int, update: dict[str, Any], product_id: str) -> list[dict]:
        path = ["variants", str(i)]
        variant = next((v for v in self._variants if v["id"] == update.get("id")), None)
        if variant is None or variant["productId"] != product_id:
            return [user_error(path + ["id"], "Product variant does not exist",
                               "PRODUCT_VARIANT_DOES_NOT_EXIST")]
        return []

    # ---- inventory -------------------------------------------------------------------------
    def _inventory_errors(self, payload: dict[str, Any], version: str) -> list[dict[str, Any]]:
        if payload.get("name") not in ("available", "on_hand"):
            return [user_error(["input", "name"], "The quantity name must be either 'available' "
                                                  "or 'on_hand'.", "INVALID_NAME")]
        if payload.get("reason") not in INVENTORY_REASONS:
            return [user_error(["input", "reason"], "The specified reason is invalid.",
                               "INVALID_REASON")]
        quantities = payload.get("quantities") or []
        return [e for i, q in enumerate(quantities)
                for e in self._quantity_errors(i, q, payload, version)]

    def _quantity_errors(self, i: int, q: dict[str, Any], payload: dict[str, Any],
                         version: str) -> list[dict[str, Any]]:
        path = ["input", "quantities", str(i)]
        missing = self._level_lookup_error(path, q.get("inventoryItemId"), q.get("locationId"))
        if missing:
            return [missing]
        current = self._levels[(q["inventoryItemId"], q["locationId"])][payload["name"]]
        return _compare_errors(path, q, payload, current, version)

    def _level_lookup_error(self, path: list[str], item: Any, location: Any) -> dict | None:
        if not any(v["inventoryItemId"] == item for v in self._variants):
            return user_error(path + ["inventoryItemId"], "The specified inventory item could not "
                                                          "be found.", "INVALID_INVENTORY_ITEM")
        if location not in self.locations:
            return user_error(path + ["locationId"], "The specified location could not be found.",
                              "INVALID_LOCATION")
        if (item, location) not in self._levels:
            return user_error(path + ["locationId"], "The inventory item is not stocked at the "
                                                     "location.", "ITEM_NOT_STOCKED_AT_LOCATION")
        return None

    def _set_level(self, name: str, q: dict[str, Any]) -> list[dict[str, Any]]:
        level = self._levels[(q["inventoryItemId"], q["locationId"])]
        delta = int(q["quantity"]) - level[name]
        # Setting `available` moves `on_hand` by the same delta, and the reverse.
        level["available"] += delta
        level["on_hand"] += delta
        where = {"item": {"id": q["inventoryItemId"]}, "location": {"id": q["locationId"]}}
        return [{"name": n, "delta": delta, "quantityAfterChange": level[n], **where}
                for n in (name, "on_hand" if name == "available" else "available")]

    def _variant_view(self, v: dict[str, Any]) -> dict[str, Any]:
        item_id = v["inventoryItemId"]
        item = {"id": item_id, "legacyResourceId": legacy_id(item_id), "sku": v["sku"],
                "tracked": v["tracked"],
                "inventoryLevel": lambda a: self._level_view(item_id, a.get("locationId")),
                "inventoryLevels": lambda a: connection(
                    [self._level_view(item_id, loc) for (i, loc) in self._levels if i == item_id])}
        return {**{k: v[k] for k in ("id", "sku", "title", "inventoryPolicy")},
                "legacyResourceId": legacy_id(v["id"]), "displayName": v["displayName"],
                "inventoryQuantity": sum(l["available"] for (i, _), l in self._levels.items()
                                         if i == item_id),
                "product": {"id": v["productId"], "title": v["productTitle"]},
                "inventoryItem": item}

    def _level_view(self, item_id: str, location: Any) -> dict[str, Any] | None:
        level = self._levels.get((item_id, location))
        if level is None:
            return None
        quantities = lambda a: [{"name": n, "quantity": level.get(n, 0)}
                                for n in a.get("names") or ["available"]]
        return {"id": f"{gid('InventoryLevel', legacy_id(location))}?inventory_item_id="
                      f"{legacy_id(item_id)}",
                "location": {"id": location}, "item": {"id": item_id}, "quantities": quantities}

    # ---- fulfillment -----------------------------------------------------------------------
    def _find_fulfillment_order(self, fo_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for order in self._orders.values():
            for fo in order["fulfillmentOrders"]:
                if fo["id"] == fo_id:
                    return order, fo
        return None

    def _fulfillment_plan(self, groups: list[dict[str, Any]]) -> tuple[list, list]:
        """Which (order, fulfillment order line, quantity) to fulfil, or the user errors."""
        if not groups:
            return [], [user_error(["fulfillment", "lineItemsByFulfillmentOrder"],
                                   "Line items by fulfillment order can't be blank")]
        plan, errors, locations = [], [], set()
        for i, group in enumerate(groups):
            found = self._find_fulfillment_order(str(group.get("fulfillmentOrderId")))
            locations |= {found[1]["locationId"]} if found else set()
            path = ["fulfillment", "lineItemsByFulfillmentOrder", str(i)]
            lines, error = _group_lines(found, group, path)
            plan += [(found[0], line, qty) for line, qty in lines] if found else []
            errors += [error] if error else []
        if not errors and len({id(order) for order, _, _ in plan}) > 1:
            errors.append(user_error(["fulfillment"], "All fulfillment orders must belong to the "
                                                      "same order."))
        if not errors and len(locations) > 1:  # "…assigned to the same location" (fulfillmentCreate)
            errors.append(user_error(["fulfillment"], "All fulfillment orders must be assigned to "
                                                      "the same location."))
        return plan, errors

    def _fulfil(self, plan: list, spec: dict[str, Any]) -> dict[str, Any]:
        order = plan[0][0]
        for _, line, qty in plan:
            line["remainingQuantity"] -= qty
        for fo in order["fulfillmentOrders"]:
            fo["status"] = _fo_status(fo)
        fulfillment = {"id": self._new_id("Fulfillment"), "status": "SUCCESS",
                       "createdAt": now_iso(), "notifyCustomer": bool(spec.get("notifyCustomer")),
                       "trackingInfo": _tracking(spec.get("trackingInfo") or {}),
                       "lineItems": [{"id": self._new_id("FulfillmentLineItem"),
                                      "lineItemId": line["lineItemId"], "sku": line["sku"],
                                      "quantity": qty} for _, line, qty in plan]}
        order["fulfillments"].append(fulfillment)
        return fulfillment

    def _order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"id": order["id"], "name": order["name"], "legacyResourceId": legacy_id(order["id"]),
                "displayFulfillmentStatus": _display_status(order),
                "lineItems": lambda a: page([_line_view(li) for li in order["lineItems"]], a),
                "fulfillmentOrders": lambda a: page([self._fo_view(order, fo)
                                                     for fo in order["fulfillmentOrders"]], a),
                # A plain list in the real API, not a connection: `first` truncates, no cursor.
                "fulfillments": lambda a: truncated([self._fulfillment_view(f)
                                                     for f in order["fulfillments"]], a)}

    def _fo_view(self, order: dict[str, Any], fo: dict[str, Any]) -> dict[str, Any]:
        ordered = {li["id"]: li["quantity"] for li in order["lineItems"]}  # the order's line after edits
        lines = [{"id": l["id"], "sku": l["sku"], "totalQuantity": l["totalQuantity"],
                  "remainingQuantity": l["remainingQuantity"],
                  "lineItem": {"id": l["lineItemId"], "sku": l["sku"], "currentQuantity": ordered[l["lineItemId"]]}}
                 for l in fo["lineItems"]]
        for view, line in zip(lines, fo["lineItems"]):
            view.update({"requiresShipping": line.get("requiresShipping", True),
                         "originalUnitPriceSet": {"shopMoney": {"amount": line.get("price", "10.00"),
                                                                "currencyCode": "USD"}}})
        address = order.get("shippingAddress") or {}
        requests = fo.get("merchantRequests", [])
        return {"id": fo["id"], "status": fo["status"],
                "requestStatus": fo.get("requestStatus", "UNSUBMITTED"),
                "order": {"id": order["id"], "name": order["name"], "legacyResourceId": legacy_id(order["id"]),
                          "createdAt": order.get("createdAt"), "updatedAt": order.get("createdAt"),
                          "email": order.get("email"), "currencyCode": "USD"},
                "destination": {**{k: address.get(k) for k in ("firstName", "lastName", "company", "address1",
                                                               "address2", "city", "countryCode", "zip", "phone")},
                                "province": address.get("provinceCode"), "email": order.get("email")},
                "merchantRequests": lambda a: page([r for r in requests if a.get("kind") in (None, r["kind"])],
                                                   {k: v for k, v in a.items() if k != "kind"}),
                "assignedLocation": {"location": {"id": fo["locationId"]}},
                "lineItems": lambda a: page(lines, a)}

    @staticmethod
    def _fulfillment_view(f: dict[str, Any]) -> dict[str, Any]:
        lines = [{"id": l["id"], "quantity": l["quantity"],
                  "lineItem": {"id": l["lineItemId"], "sku": l["sku"]}} for l in f["lineItems"]]
        return {"id": f["id"], "status": f["status"], "createdAt": f["createdAt"],
                "trackingInfo": f["trackingInfo"], "fulfillmentLineItems": lambda a: page(lines, a)}

    # ---- tracking updates (fulfillmentTrackingInfoUpdate; added for the tracking consumer) ------
    def mutation_fulfillmentTrackingInfoUpdate(self, args: dict[str, Any]) -> dict[str, Any]:
        """Replace a fulfillment's tracking info (numbers, urls, company), as Shopify does."""
        fulfillment = self._find_fulfillment(str(args.get("fulfillmentId")))
        if fulfillment is None:
            return {"fulfillment": None,
                    "userErrors": [user_error(["fulfillmentId"], "Fulfillment does not exist.")]}
        fulfillment["trackingInfo"] = _tracking(args.get("trackingInfoInput") or {})
        fulfillment["trackingUpdates"] = fulfillment.get("trackingUpdates", 0) + 1
        if args.get("notifyCustomer"):
            fulfillment["updateNotifications"] = fulfillment.get("updateNotifications", 0) + 1
        return {"fulfillment": self._fulfillment_view(fulfillment), "userErrors": []}

    def _find_fulfillment(self, fulfillment_id: str) -> dict[str, Any] | None:
        return next((f for order in self._orders.values() for f in order["fulfillments"]
                     if f["id"] == fulfillment_id), None)

    def customer_notifications(self, order_id: int | str) -> int:
        """Shipping emails the shop would have sent for one order: each fulfillment created with
        `notifyCustomer: true`, and each tracking update sent with it."""
        with self._state_lock:
            return sum(int(bool(f.get("notifyCustomer"))) + f.get("updateNotifications", 0)
                       for f in self.fulfillments(order_id))

    # ---- test helpers (Python, not HTTP) ---------------------------------------------------
    def add_location(self, location_id: int | str) -> str:
        with self._state_lock:
            self.locations.append(to_gid("Location", location_id))
            return self.locations[-1]

    def add_variant(self, sku: str, quantity: int = 0, inventory_policy: str = "DENY",
                    tracked: bool = True, location_id: int | str = DEFAULT_LOCATION,
                    title: str | None = None) -> dict[str, Any]:
        """Create a product with one variant stocked at `location_id`; returns the variant record
        (`id`, `sku`, `inventoryItemId`, `inventoryPolicy`, ...)."""
        with self._state_lock:
            product_id, title = self._new_id("Product"), title or f"Product {sku}"
            variant = {"id": self._new_id("ProductVariant"), "sku": sku, "title": "Default Title",
                       "displayName": f"{title} - Default Title", "productId": product_id,
                       "productTitle": title, "inventoryPolicy": inventory_policy,
                       "inventoryItemId": self._new_id("InventoryItem"), "tracked": tracked}
            self._variants.append(variant)
            self._levels[(variant["inventoryItemId"], to_gid("Location", location_id))] = {
                "available": quantity, "on_hand": quantity}
            return dict(variant)

    def variant(self, sku: str) -> dict[str, Any] | None:
        with self._state_lock:
            return next((dict(v) for v in self._variants if v["sku"] == sku), None)

    def set_inventory_policy(self, sku: str, policy: str) -> None:
        """`CONTINUE` keeps selling at zero stock (backorder), `DENY` stops."""
        with self._state_lock:
            for v in self._variants:
                if v["sku"] == sku:
                    v["inventoryPolicy"] = policy

    def available(self, sku: str, location_id: int | str = DEFAULT_LOCATION,
                  name: str = "available") -> int | None:
        """The `available` (or `on_hand`) quantity of a SKU at a location; None if not stocked."""
        with self._state_lock:
            variant = self.variant(sku)
            level = variant and self._levels.get((variant["inventoryItemId"],
                                                  to_gid("Location", location_id)))
            return level[name] if level else None

    def add_order(self, order_id: int | str | None = None,
                  line_items: Iterable[dict[str, Any]] = (), name: str | None = None,
                  location_id: int | str = DEFAULT_LOCATION, shipping_address: dict[str, Any] | None = None,
                  email: str = "bob.norman@hostmail.com", created_at: str | None = None) -> dict[str, Any]:
        """Create an order whose lines wait in open fulfillment orders, one per location by default.

        `line_items` are dicts with `sku`, `quantity` and optionally `id` (the REST line item id,
        as in `sandbox.sample.shopify_order()["line_items"]`), `location_id` (the line's assigned
        location, else `location_id`) and `fulfillment_order` (any label: lines with different
        labels land in different fulfillment orders at the same location, as after Shopify splits
        one), `price`. `shipping_address` (Shopify's MailingAddress fields: firstName, address1, city,
        provinceCode, countryCode, zip ...) is each fulfillment order's destination. Returns the stored order.
        """
        with self._state_lock:
            order_gid = to_gid("Order", order_id) if order_id else self._new_id("Order")
            given = list(line_items)
            lines = [self._new_line(li) for li in given]
            self._orders[order_gid] = {
                "id": order_gid, "name": name or f"#{legacy_id(order_gid)}", "lineItems": lines,
                "email": email, "createdAt": created_at or now_iso(),
                "shippingAddress": dict(shipping_address or SAMPLE_ADDRESS),
                "fulfillmentOrders": [self._new_fulfillment_order(group, where) for where, group
                                      in _line_groups(given, lines, location_id)],
                "fulfillments": []}
            return copy.deepcopy(self._orders[order_gid])

    def add_fulfillment(self, order_id: int | str, lines: dict[str, int], tracking_number: str,
                        company: str = "UPS") -> dict[str, Any]:
        """Fulfil `lines` (SKU -> quantity) from the order's open fulfillment orders, as a merchant
        would in the admin (no customer email); returns the stored fulfillment."""
        with self._state_lock:
            order = self._orders[to_gid("Order", order_id)]
            left, plan = dict(lines), []
            for fo in order["fulfillmentOrders"]:
                for line in fo["lineItems"]:
                    take = min(left.get(line["sku"], 0), line["remainingQuantity"])
                    if take > 0:
                        plan.append((order, line, take))
                        left[line["sku"]] -= take
            if any(left.values()):
                raise ValueError(f"order {order_id} has nothing open for {left}")
            spec = {"trackingInfo": {"company": company, "number": tracking_number}}
            return copy.deepcopy(self._fulfil(plan, spec))

    def _new_line(self, line: dict[str, Any]) -> dict[str, Any]:
        line_id = to_gid("LineItem", line["id"]) if line.get("id") else self._new_id("LineItem")
        return {"id": line_id, "sku": line.get("sku"), "quantity": int(line.get("quantity", 1)),
                "price": str(line.get("price", "10.00")), "requiresShipping": line.get("requires_shipping", True)}

    def _new_fulfillment_order(self, lines: list[dict[str, Any]],
                               location_id: int | str) -> dict[str, Any]:
        fo_lines = [{"id": self._new_id("FulfillmentOrderLineItem"), "lineItemId": li["id"],
                     "sku": li["sku"], "totalQuantity": li["quantity"],
                     "remainingQuantity": li["quantity"], "price": li.get("price", "10.00"),
                     "requiresShipping": li.get("requiresShipping", True)} for li in lines]
        return {"id": self._new_id("FulfillmentOrder"), "status": "OPEN",
                "locationId": to_gid("Location", location_id), "lineItems": fo_lines}

    def order(self, order_id: int | str) -> dict[str, Any] | None:
        with self._state_lock:
            return copy.deepcopy(self._orders.get(to_gid("Order", order_id)))

    def fulfillments(self, order_id: int | str | None = None) -> list[dict[str, Any]]:
        """Fulfillments created so far (of one order, or of all), each with its `orderId`."""
        with self._state_lock:
            return [{"orderId": o["id"], **copy.deepcopy(f)} for o in self._orders.values()
                    if order_id is None or o["id"] == to_gid("Order", order_id)
                    for f in o["fulfillments"]]

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            levels = [{"inventoryItemId": i, "locationId": loc, **q}
                      for (i, loc), q in self._levels.items()]
            return copy.deepcopy({"variants": self._variants, "inventoryLevels": levels,
                                  "orders": list(self._orders.values())})


SAMPLE_ADDRESS = {"firstName": "Bob", "lastName": "Norman", "company": "Acme", "address1": "Chestnut Street 92",
                  "address2": "", "city": "Louisville", "provinceCode": "KY", "countryCode": "US",
                  "zip": "40202", "phone": "+1(502)-459-2181"}


# ---- small pure helpers ----------------------------------------------------------------------
_SKU_TERM = re.compile(r"""sku:(?:"([^"]*)"|'([^']*)'|([^\s()]+))""")


def _sku_query_matches(query: Any, sku: str) -> bool:
    """Shopify search syntax, SKU terms only: `sku:A`, `sku:"A B"`, `sku:A OR sku:B`."""
    wanted = ["".join(parts) for parts in _SKU_TERM.findall(str(query or ""))]
    return not wanted or sku.lower() in (w.lower() for w in wanted)


def _refusal(requested: int, status: dict[str, Any], code: str, message: str,
             **extensions: Any) -> dict[str, Any]:
    """An answer that ran nothing: HTTP 200, an error, and the cost extension."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}],
            "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                    "throttleStatus": status}}}


def _invalid_variable(path: list[str], name: str, problem: str) -> gql.GraphQLError:
    return gql.GraphQLError(f"Variable $input of type InventorySetQuantitiesInput! was provided "
                            f"invalid value for {'.'.join(path[1:])}.{name} ({problem})",
                            code="INVALID_VARIABLE")


def _compare_errors(path: list[str], q: dict[str, Any], payload: dict[str, Any], current: int,
                    version: str) -> list[dict[str, Any]]:
    """The compare-and-swap rules, which changed in 2026-01 and again in 2026-04."""
    if "changeFromQuantity" in q:  # 2026-01 on: present (even null) overrides compareQuantity
        if q["changeFromQuantity"] in (None, current):
            return []
        return [user_error(path + ["changeFromQuantity"], "The changeFromQuantity value does not "
                           "match persisted value.", "CHANGE_FROM_QUANTITY_STALE")]
    if version >= CHANGE_FROM_REQUIRED_SINCE:  # "unstable" sorts after every dated version
        raise _invalid_variable(path, "changeFromQuantity",
                                "Expected value to be present; pass null to skip the check")
    return [] if payload.get("ignoreCompareQuantity") else _compare_quantity_errors(path, q, current)


def _compare_quantity_errors(path: list[str], q: dict[str, Any], current: int) -> list[dict]:
    """The pre-2026-04 check, used when `changeFromQuantity` is absent."""
    if q.get("compareQuantity") is None:
        return [user_error(path + ["compareQuantity"], "The compareQuantity argument must be given "
                           "to each quantity or ignored using ignoreCompareQuantity.",
                           "COMPARE_QUANTITY_REQUIRED")]
    if q["compareQuantity"] != current:
        return [user_error(path + ["compareQuantity"], "The compareQuantity value does not match "
                           "persisted value.", "COMPARE_QUANTITY_STALE")]
    return []


def _group_lines(found: tuple | None, group: dict[str, Any], path: list[str]) -> tuple[list, Any]:
    """The (fulfillment order line, quantity) pairs one input group asks for, or its error."""
    if found is None:
        return [], user_error(path + ["fulfillmentOrderId"], "Fulfillment order does not exist.")
    fo = found[1]
    if fo["status"] == "CLOSED":
        return [], user_error(path + ["fulfillmentOrderId"], f"Fulfillment order {fo['id']} has "
                                                             "an unfulfillable status= closed.")
    wanted = group.get("fulfillmentOrderLineItems")
    if not wanted:  # omitted line items mean "everything still open"
        return [(l, l["remainingQuantity"]) for l in fo["lineItems"] if l["remainingQuantity"]], None
    by_id = {l["id"]: l for l in fo["lineItems"]}
    pairs = [(by_id.get(w.get("id")), int(w.get("quantity") or 0)) for w in wanted]
    if any(line is None or not 0 < qty <= line["remainingQuantity"] for line, qty in pairs):
        return [], user_error(path + ["fulfillmentOrderLineItems"],
                              "Invalid fulfillment order line item quantity requested.")
    return pairs, None


def _line_groups(given: list[dict[str, Any]], lines: list[dict[str, Any]],
                 location_id: int | str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(location, lines) of each fulfillment order a new order starts with: one per location and
    `fulfillment_order` label, and always at least one."""
    default = to_gid("Location", location_id)
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for spec, line in zip(given, lines):
        where = to_gid("Location", spec["location_id"]) if spec.get("location_id") else default
        groups.setdefault((where, spec.get("fulfillment_order")), []).append(line)
    return [(where, group) for (where, _), group in groups.items()] or [(default, [])]


def _tracking(info: dict[str, Any]) -> list[dict[str, Any]]:
    numbers = info.get("numbers") or ([info["number"]] if info.get("number") else [])
    urls = info.get("urls") or ([info["url"]] if info.get("url") else [])
    return [{"company": info.get("company"), "number": n,
             "url": urls[i] if i < len(urls) else None} for i, n in enumerate(numbers)]


def _fo_status(fo: dict[str, Any]) -> str:
    remaining = sum(l["remainingQuantity"] for l in fo["lineItems"])
    total = sum(l["totalQuantity"] for l in fo["lineItems"])
    return "CLOSED" if remaining == 0 else "IN_PROGRESS" if remaining < total else "OPEN"


def _display_status(order: dict[str, Any]) -> str:
    statuses = {_fo_status(fo) for fo in order["fulfillmentOrders"]}
    if statuses == {"CLOSED"}:
        return "FULFILLED"
    return "PARTIALLY_FULFILLED" if statuses & {"CLOSED", "IN_PROGRESS"} else "UNFULFILLED"


def _line_view(line: dict[str, Any]) -> dict[str, Any]:
    return {"id": line["id"], "sku": line["sku"], "quantity": line["quantity"]}
