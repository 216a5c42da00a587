"""Local stand-in for the Magento 2 / Adobe Commerce REST API (docs/magento.md).

Routes live under `/rest/<store code>/V1/` (`default`, `all` or a configured store view code; `/rest/V1/` is
the default store view). Authentication is either
- `Authorization: Bearer <integration access token>` — accepted only while `bearer_allowed` is on, as Magento
  2.4.4+ accepts an integration's token as a standalone bearer token only when the store enables
  "Allow OAuth Access Tokens to be used as standalone Bearer tokens"; or
- an OAuth 1.0a signed request (`Authorization: OAuth …`, HMAC-SHA256 or HMAC-SHA1) with the integration's
  consumer key / secret and access token / secret. The signature is verified here from RFC 5849 itself
  (`signature_base_string`), nonces are single-use and timestamps must be within 10 minutes.
A refused request gets what Magento answers: `401 {"message": "The consumer isn't authorized to access
%resources.", "parameters": {"resources": …}}`; why it was refused is kept in `auth_failures`.

Behaviours copied from Magento because they bite clients:
- `searchCriteria` is required on list endpoints; filters inside one filter group are ORed, groups are ANDed;
- a `currentPage` past the last page answers the last page again (magento/magento2#3787), so a client must stop
  by `total_count`, not by an empty page;
- dates are `YYYY-MM-DD HH:MM:SS` in UTC with one-second resolution; every change to an order (a shipment, a
  status change) moves its `updated_at`;
- `products` lists without `extension_attributes.stock_item` (filled only for a single product, magento/magento2#36533);
- `order/{id}/ship` refuses items that are not open and orders that cannot ship (canceled, closed, complete,
  on hold) with `400 {"message": "Shipment Document Validation Error(s):\n…"}`; a full shipment makes the order
  `complete`; `notify: true` records the shipment email in `emails`.
The stand-in imports nothing of the product.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote

from .httpserver import HttpError, Request, Response, StandIn, json_response, ok, route

ROOT = r"/rest/(?:(?P<store>[A-Za-z0-9_]+)/)?V1/"
NOT_AUTHORIZED = "The consumer isn't authorized to access %resources."
NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
NO_ROUTE = "Request does not match any route."
TIMESTAMP_WINDOW_SECONDS = 600
SHIPPABLE_STATES = ("new", "processing")
#: The ACL resource Magento names when it refuses each route (what its 401 says).
RESOURCES = {"orders": "Magento_Sales::actions_view", "order": "Magento_Sales::ship",
             "shipments": "Magento_Sales::shipment", "shipment": "Magento_Sales::shipment",
             "inventory": "Magento_InventoryApi::source_item", "products": "Magento_Catalog::products"}
DEFAULT_LINES = ({"sku": "SKU-1", "qty": 1, "price": 19.99},)


def magento_date(moment: datetime | None = None) -> str:
    """Magento's REST date format: UTC, seconds, no zone (`2017-08-21 22:22:19`)."""
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def error(status: int, message: str, **parameters: Any) -> HttpError:
    """Magento's error body: the message with `%name` placeholders and their `parameters`."""
    body: dict[str, Any] = {"message": message}
    if parameters:
        body["parameters"] = parameters
    return HttpError(status, body)


# ---- OAuth 1.0a (RFC 5849), written from the RFC ------------------------------------------------
def percent_encode(text: str) -> str:
    """RFC 5849 §3.6: UTF-8, then every byte but ALPHA / DIGIT / "-" / "." / "_" / "~" as %XX (upper case)."""
    return quote(text.encode("utf-8"), safe="-._~")


def authorization_params(header: str) -> dict[str, str] | None:
    """RFC 5849 §3.5.1: `OAuth name="value", …`, names and values percent-decoded; None if not OAuth."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        return None
    found: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep and value.startswith('"') and value.endswith('"') and len(value) >= 2:
            found[unquote(name)] = unquote(value[1:-1])
    return found


def base_string_uri(scheme: str, host: str, path: str) -> str:
    """RFC 5849 §3.4.1.2: lower-case scheme and host, the port only when it is not the scheme's default."""
    host = host.lower()
    name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    if port and ((scheme == "http" and port == "80") or (scheme == "https" and port == "443")):
        host = name
    return f"{scheme.lower()}://{host}{path or '/'}"


def signature_base_string(method: str, uri: str, query: str, oauth: Mapping[str, str],
                          form_body: str = "") -> str:
    """RFC 5849 §3.4.1: METHOD & uri & the normalized parameters (query, form body, OAuth header but realm and
    oauth_signature), each name and value encoded, sorted by name then value, joined with = and &."""
    pairs = parse_qsl(query, keep_blank_values=True) + parse_qsl(form_body, keep_blank_values=True)
    pairs += [(name, value) for name, value in oauth.items() if name not in ("realm", "oauth_signature")]
    encoded = sorted((percent_encode(name), percent_encode(value)) for name, value in pairs)
    normalized = "&".join(f"{name}={value}" for name, value in encoded)
    return "&".join([method.upper(), percent_encode(uri), percent_encode(normalized)])


def hmac_signature(method: str, base: str, consumer_secret: str, token_secret: str) -> str:
    """RFC 5849 §3.4.2 (HMAC-SHA1; HMAC-SHA256 the same with SHA-256): key = secret & secret, base64 digest."""
    digest = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}[method]
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), digest).digest()).decode()


# ---- payload builders (tests and sandbox.sample use them) -----------------------------------------
def address(first: str = "Jane", last: str = "Doe", address_type: str = "shipping", **fields: Any) -> dict:
    found = {"address_type": address_type, "firstname": first, "lastname": last, "company": "",
             "street": ["123 Oak Ave", "Suite 4"], "city": "Purchase", "region": "New York", "region_code": "NY",
             "region_id": 43, "postcode": "10577", "country_id": "US", "telephone": "512-555-1111",
             "email": "jdoe@example.com"}
    return {**found, **fields}


def order_item(order_id: int, item_id: int, line: Mapping[str, Any]) -> dict[str, Any]:
    """One order item from `{"sku", "qty", "price"}` (+ `product_type`, `parent_item_id`, `is_virtual` …)."""
    qty = line.get("qty", 1)
    return {"item_id": item_id, "order_id": order_id, "sku": line.get("sku", "SKU-1"),
            "name": line.get("name") or f"Sample item {line.get('sku', '')}", "product_type":
            line.get("product_type", "simple"), "qty_ordered": qty, "qty_shipped": line.get("qty_shipped", 0),
            "qty_canceled": 0, "qty_refunded": 0, "qty_invoiced": line.get("qty_invoiced", qty),
            "price": line.get("price", 19.99), "is_virtual": int(bool(line.get("is_virtual", False))),
            **({"parent_item_id": line["parent_item_id"]} if line.get("parent_item_id") else {})}


def order_json(entity_id: int, state: str = "processing", status: str | None = None,
               items: Iterable[Mapping[str, Any]] = DEFAULT_LINES, created_at: str | None = None,
               updated_at: str | None = None, shipping_address: Mapping[str, Any] | None = None,
               billing_address: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A Magento order as `GET V1/orders/{id}` and the order search answer it (trimmed to what matters)."""
    created = created_at or magento_date()
    lines = [order_item(entity_id, entity_id * 100 + index + 1, line) for index, line in enumerate(items)]
    shipping = dict(shipping_address) if shipping_address is not None else address()
    billing = dict(billing_address) if billing_address is not None else address(address_type="billing")
    return {"entity_id": entity_id, "increment_id": f"{entity_id:09d}", "state": state,
            "status": status or {"new": "pending", "holded": "holded"}.get(state, state),
            "created_at": created, "updated_at": updated_at or created, "order_currency_code": "USD",
            "customer_email": billing.get("email", ""), "customer_firstname": billing.get("firstname", ""),
            "customer_lastname": billing.get("lastname", ""), "store_id": 1, "is_virtual": 0,
            "grand_total": round(sum(float(i["price"]) * float(i["qty_ordered"]) for i in lines), 2),
            "shipping_description": "Flat Rate - Fixed", "items": lines, "billing_address": billing,
            "extension_attributes": {"shipping_assignments": [{"shipping": {
                "address": shipping, "method": "flatrate_flatrate"}, "items": lines}]},
            **fields}


# ---- search criteria --------------------------------------------------------------------------------
def search_criteria(query: Mapping[str, str]) -> dict[str, Any]:
    """`searchCriteria[filter_groups][i][filters][j][field]=…` & co. -> groups, sort orders, paging."""
    if not any(key == "searchCriteria" or key.startswith("searchCriteria[") for key in query):
        raise error(400, "%fieldName is a required field.", fieldName="searchCriteria")
    groups: dict[int, dict[int, dict[str, str]]] = {}
    sorts: dict[int, dict[str, str]] = {}
    paging: dict[str, str] = {}
    for key, value in query.items():
        parts = re.findall(r"\[([^\]]*)\]", key)
        if not key.startswith("searchCriteria") or not parts:
            continue
        if parts[0] in ("filter_groups", "filterGroups") and len(parts) == 4 and parts[2] == "filters":
            groups.setdefault(int(parts[1]), {}).setdefault(int(parts[3]), {})
        if parts[0] in ("filter_groups", "filterGroups") and len(parts) == 5:
            groups.setdefault(int(parts[1]), {}).setdefault(int(parts[3]), {})[parts[4]] = value
        elif parts[0] in ("sortOrders", "sort_orders") and len(parts) == 3:
            sorts.setdefault(int(parts[1]), {})[parts[2]] = value
        elif parts[0] in ("pageSize", "page_size", "currentPage", "current_page") and len(parts) == 1:
            paging[parts[0].replace("_size", "Size").replace("_page", "Page")] = value
    return {"filter_groups": [[groups[g][f] for f in sorted(groups[g])] for g in sorted(groups)],
            "sort_orders": [sorts[s] for s in sorted(sorts)],
            "page_size": _whole(paging.get("pageSize")), "current_page": _whole(paging.get("currentPage")) or 1}


def _whole(text: str | None) -> int | None:
    if text in (None, ""):
        return None
    if not re.fullmatch(r"\d+", text):
        raise error(400, 'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try '
                         "again.", value=text, type="int")
    return int(text)


def _comparable(value: Any) -> Any:
    text = str(value)
    return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else text


def _matches(record: Mapping[str, Any], flt: Mapping[str, str]) -> bool:
    condition = (flt.get("condition_type") or "eq").lower()
    value, have = flt.get("value", ""), record.get(flt.get("field", ""))
    if condition == "null":
        return have is None
    if condition == "notnull":
        return have is not None
    if have is None:
        return False
    if condition in ("in", "nin"):
        found = str(have) in [v.strip() for v in value.split(",")]
        return found if condition == "in" else not found
    if condition in ("like", "nlike"):
        pattern = "^" + ".*".join(re.escape(part) for part in value.split("%")) + "$"
        found = re.match(pattern, str(have), flags=re.IGNORECASE) is not None
        return found if condition == "like" else not found
    a, b = _comparable(have), _comparable(value)
    if type(a) is not type(b):
        a, b = str(have), value
    compare = {"eq": a == b, "neq": a != b, "gt": a > b, "gteq": a >= b, "moreq": a >= b, "from": a >= b,
               "lt": a < b, "lteq": a <= b, "to": a <= b}
    if condition not in compare:
        raise error(400, 'Invalid condition type "%1"', **{"1": condition})
    return compare[condition]


def search(rows: list[dict[str, Any]], criteria: dict[str, Any]) -> Response:
    """Filter (OR within a group, AND across groups), sort, and page as Magento's repositories do."""
    found = [row for row in rows if all(any(_matches(row, f) for f in group) for group in criteria["filter_groups"])]
    for order in reversed(criteria["sort_orders"]):
        field = order.get("field", "")
        found.sort(key=lambda row: (_comparable(row.get(field, "")),), reverse=order.get("direction", "ASC")
                   .upper() == "DESC")
    total, size, page = len(found), criteria["page_size"], criteria["current_page"]
    echo = {"filter_groups": [{"filters": group} for group in criteria["filter_groups"]],
            "sort_orders": criteria["sort_orders"], "current_page": page}
    if size:
        last = max(1, -(-total // size))
        page = min(page, last)  # past the last page: the last page again (magento/magento2#3787)
        found = found[(page - 1) * size: page * size]
        echo["page_size"] = size
    return ok({"items": found, "search_criteria": echo, "total_count": total})


class MagentoStandIn(StandIn):
    """One Magento store: orders (with shipments and tracks), MSI sources and their source items."""

    name = "magento"

    def __init__(self, access_token: str = "mg_access_token", *, consumer_key: str = "mg_consumer_key",
                 consumer_secret: str = "mg_consumer_secret", access_token_secret: str = "mg_token_secret",
                 bearer_allowed: bool = True, store_codes: Iterable[str] = ("default",),
                 sources: Iterable[str] = ("default",), port: int = 0) -> None:
        self.access_token, self.access_token_secret = access_token, access_token_secret
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.bearer_allowed = bearer_allowed
        self.store_codes = {"default", "all", *store_codes}
        self.sources = set(sources)
        self.disabled_sources: set[str] = set()
        self._state_lock = threading.RLock()
        self.reset_state()
        super().__init__(port)

    def reset_state(self) -> None:
        with self._state_lock:
            self._orders: dict[int, dict[str, Any]] = {}
            self._shipments: dict[int, dict[str, Any]] = {}
            self._source_items: dict[tuple[str, str], dict[str, Any]] = {}
            self._products: dict[str, dict[str, Any]] = {}  # SKU -> catalog product
            self._emails: list[dict[str, Any]] = []
            self._nonces: set[tuple[str, str, str]] = set()
            self.auth_failures: list[str] = []
            self.oauth_requests = 0
            self.bearer_requests = 0
            self._shipment_ids = itertools.count(1)
            self._track_ids = itertools.count(1)
            self._order_ids = itertools.count(1)

    @property
    def store_url(self) -> str:
        """What a connection's `store_url` should be (REST under `/rest/<store>/V1/`)."""
        return self.base_url

    def rest_url(self, path: str, store: str = "default") -> str:
        return f"{self.base_url}/rest/{store}/V1/{path.lstrip('/')}"

    # ---- HTTP plumbing ------------------------------------------------------------------------
    def authenticate(self, req: Request) -> Response | None:
        if not req.path.startswith("/rest/"):
            return None
        failure = self._auth_failure(req)
        if failure is None:
            return None
        with self._state_lock:
            self.auth_failures.append(failure)
        self.log.info("refused %s %s: %s", req.method, req.path, failure)
        return json_response(401, {"message": NOT_AUTHORIZED, "parameters": {"resources": _resource(req.path)}})

    def _auth_failure(self, req: Request) -> str | None:
        header = req.headers.get("Authorization") or ""
        if header.lower().startswith("bearer "):
            with self._state_lock:
                self.bearer_requests += 1
            if not self.bearer_allowed:
                return "bearer token given, but the store does not allow access tokens as standalone bearer tokens"
            return None if hmac.compare_digest(header[7:].strip(), self.access_token) else "unknown bearer token"
        oauth = authorization_params(header)
        if oauth is None:
            return "no Authorization header"
        with self._state_lock:
            self.oauth_requests += 1
        return self._oauth_failure(req, oauth)

    def _oauth_failure(self, req: Request, oauth: dict[str, str]) -> str | None:
        missing = [name for name in ("oauth_consumer_key", "oauth_signature", "oauth_signature_method",
                                     "oauth_nonce", "oauth_timestamp", "oauth_token") if not oauth.get(name)]
        if missing:
            return f"OAuth parameters missing: {', '.join(missing)}"
        if oauth.get("oauth_version", "1.0") != "1.0":
            return f"oauth_version {oauth['oauth_version']} is not 1.0"
        if oauth["oauth_signature_method"] not in ("HMAC-SHA1", "HMAC-SHA256"):
            return f"signature method {oauth['oauth_signature_method']} is not supported"
        if oauth["oauth_consumer_key"] != self.consumer_key or oauth["oauth_token"] != self.access_token:
            return "unknown consumer key or access token"
        if not oauth["oauth_timestamp"].isdigit() or \
                abs(time.time() - int(oauth["oauth_timestamp"])) > TIMESTAMP_WINDOW_SECONDS:
            return "oauth_timestamp is outside the allowed window"
        form = req.body.decode("utf-8", "replace") if "x-www-form-urlencoded" in \
            (req.headers.get("Content-Type") or "") else ""
        uri = base_string_uri("http", req.headers.get("Host") or "", req.path)
        base = signature_base_string(req.method, uri, req.raw_query, oauth, form)
        expected = hmac_signature(oauth["oauth_signature_method"], base, self.consumer_secret,
                                  self.access_token_secret)
        if not hmac.compare_digest(expected, oauth["oauth_signature"]):
            return "The signature is invalid. Verify and try again."
        nonce = (oauth["oauth_consumer_key"], oauth["oauth_nonce"], oauth["oauth_timestamp"])
        with self._state_lock:
            if nonce in self._nonces:
                return "The nonce is already being used by the consumer. Verify the nonce and try again."
            self._nonces.add(nonce)
        return None

    def dispatch(self, req: Request) -> Response:
        store = re.match(ROOT, req.path)
        if store and store.group("store") and store.group("store") not in self.store_codes:
            return json_response(400, {"message": "Specified request cannot be processed."})
        return super().dispatch(req)

    def not_found(self, req: Request) -> Response:
        return json_response(404, {"message": NO_ROUTE})

    def fault_body(self, status: int) -> Any:
        return {"message": f"Injected fault: HTTP {status}"}

    @route("GET", r"/_sandbox/state", public=True)
    def _sandbox_state(self, req: Request) -> Response:
        return ok(self.state())

    # ---- orders -------------------------------------------------------------------------------
    @route("GET", ROOT + r"orders")
    def _list_orders(self, req: Request) -> Response:
        criteria = search_criteria(req.query)
        with self._state_lock:
            return search([copy.deepcopy(order) for order in self._orders.values()], criteria)

    @route("GET", ROOT + r"orders/(?P<id>\d+)")
    def _get_order(self, req: Request) -> Response:
        with self._state_lock:
            return ok(copy.deepcopy(self._order_or_404(req.params["id"])))

    def _order_or_404(self, order_id: Any) -> dict[str, Any]:
        found = self._orders.get(int(order_id))
        if found is None:
            raise error(404, NO_ENTITY)
        return found

    # ---- shipments ----------------------------------------------------------------------------
    @route("GET", ROOT + r"shipments")
    def _list_shipments(self, req: Request) -> Response:
        criteria = search_criteria(req.query)
        with self._state_lock:
            return search([copy.deepcopy(s) for s in self._shipments.values()], criteria)

    @route("POST", ROOT + r"order/(?P<id>\d+)/ship")
    def _ship(self, req: Request) -> Response:
        body = _json_body(req)
        with self._state_lock:
            order = self._order_or_404(req.params["id"])
            items = self._items_to_ship(order, body.get("items") or [])
            shipment = self._new_shipment(order, items, body.get("tracks") or [], body.get("comment"))
            if body.get("notify"):
                self._emails.append({"order_id": order["entity_id"], "to": order.get("customer_email"),
                                     "template": "shipment", "shipment_id": shipment["entity_id"],
                                     "tracks": [t["track_number"] for t in shipment["tracks"]]})
            return ok(shipment["entity_id"])

    def _items_to_ship(self, order: dict[str, Any], wanted: list[Any]) -> list[tuple[dict[str, Any], float]]:
        problems: list[str] = []
        if order["state"] not in SHIPPABLE_STATES:
            problems.append("The order does not allow a shipment to be created.")
        by_id = {item["item_id"]: item for item in order["items"]}
        if not wanted:  # no items named: Magento ships everything still open
            wanted = [{"order_item_id": item["item_id"], "qty": _open(item)} for item in order["items"]
                      if _open(item) > 0 and not item.get("is_virtual") and not item.get("parent_item_id")]
        picked: list[tuple[dict[str, Any], float]] = []
        for entry in wanted:
            item = by_id.get(_as_int((entry or {}).get("order_item_id")))
            qty = float((entry or {}).get("qty") or 0)
            if item is None:
                problems.append(f"The shipment contains product that is not in the order: "
                                f"{(entry or {}).get('order_item_id')}.")
            elif qty > _open(item) or qty <= 0:
                problems.append(f"You can't create a shipment of {qty:g} × {item['sku']}: "
                                f"{_open(item):g} left to ship.")
            else:
                picked.append((item, qty))
        if not picked and not problems:
            problems.append("You can't create a shipment without products.")
        if problems:
            raise error(400, "Shipment Document Validation Error(s):\n" + "\n".join(problems))
        return picked

    def _new_shipment(self, order: dict[str, Any], items: list[tuple[dict[str, Any], float]],
                      tracks: list[Any], comment: Any) -> dict[str, Any]:
        shipment_id = next(self._shipment_ids)
        stamp = magento_date()
        for item, qty in items:
            item["qty_shipped"] = item["qty_shipped"] + qty
        shipment = {"entity_id": shipment_id, "order_id": order["entity_id"], "increment_id": f"{shipment_id:09d}",
                    "created_at": stamp, "updated_at": stamp, "total_qty": sum(q for _, q in items),
                    "items": [{"entity_id": shipment_id * 100 + n, "order_item_id": item["item_id"],
                               "sku": item["sku"], "qty": qty, "parent_id": shipment_id}
                              for n, (item, qty) in enumerate(items, 1)],
                    "tracks": [], "comments": [comment] if isinstance(comment, dict) else []}
        for track in tracks:
            shipment["tracks"].append(self._track(order, shipment_id, track))
        self._shipments[shipment_id] = shipment
        if all(_open(item) <= 0 for item in order["items"] if not item.get("is_virtual")):
            order["state"] = order["status"] = "complete"
        order["updated_at"] = stamp
        return copy.deepcopy(shipment)

    def _track(self, order: dict[str, Any], shipment_id: int, track: Any) -> dict[str, Any]:
        track = track if isinstance(track, dict) else {}
        missing = [name for name in ("track_number", "carrier_code") if not str(track.get(name) or "").strip()]
        if missing:
            raise error(400, '"%fieldName" is required. Enter and try again.', fieldName=missing[0])
        return {"entity_id": next(self._track_ids), "order_id": order["entity_id"], "parent_id": shipment_id,
                "track_number": str(track["track_number"]), "title": str(track.get("title") or ""),
                "carrier_code": str(track["carrier_code"]), "created_at": magento_date()}

    @route("POST", ROOT + r"shipment/track")
    def _add_track(self, req: Request) -> Response:
        entity = _json_body(req).get("entity")
        if not isinstance(entity, dict):
            raise error(400, '"%fieldName" is required. Enter and try again.', fieldName="entity")
        with self._state_lock:
            shipment = self._shipments.get(_as_int(entity.get("parent_id")) or 0)
            if shipment is None:
                raise error(404, NO_ENTITY)
            order = self._order_or_404(shipment["order_id"])
            track = self._track(order, shipment["entity_id"], entity)
            shipment["tracks"].append(track)
            order["updated_at"] = magento_date()
            return ok(copy.deepcopy(track))

    # ---- catalog ------------------------------------------------------------------------------
    @route("GET", ROOT + r"products")
    def _list_products(self, req: Request) -> Response:
        criteria = search_criteria(req.query)
        with self._state_lock:
            return search([copy.deepcopy(product) for product in self._products.values()], criteria)

    # ---- inventory (MSI) ----------------------------------------------------------------------
    @route("GET", ROOT + r"inventory/sources/(?P<code>[A-Za-z0-9_-]+)")
    def _get_source(self, req: Request) -> Response:
        code = req.params["code"]
        if code not in self.sources:
            return json_response(404, {"message": 'Source item with code "%1" does not exist.',
                                       "parameters": [code]})
        return ok({"source_code": code, "name": "Default Source" if code == "default" else code.title(),
                   "enabled": code not in self.disabled_sources, "country_id": "US", "postcode": "00000"})

    @route("GET", ROOT + r"inventory/source-items")
    def _list_source_items(self, req: Request) -> Response:
        criteria = search_criteria(req.query)
        with self._state_lock:
            return search([copy.deepcopy(item) for item in self._source_items.values()], criteria)

    @route("POST", ROOT + r"inventory/source-items")
    def _save_source_items(self, req: Request) -> Response:
        entries = _json_body(req).get("sourceItems")
        if not isinstance(entries, list) or not entries:
            raise error(400, "Input data is empty")
        problems = [problem for entry in entries for problem in self._source_item_problems(entry)]
        if problems:  # one bad item refuses the whole call, as SourceItemsSave validates before saving
            raise HttpError(400, {"message": "Validation Failed", "errors": [
                {"message": problem, "parameters": []} for problem in problems]})
        with self._state_lock:
            for entry in entries:
                self._source_items[(entry["sku"], entry["source_code"])] = {
                    "sku": entry["sku"], "source_code": entry["source_code"],
                    "quantity": float(entry.get("quantity") or 0), "status": int(entry.get("status", 1))}
        return ok([])

    def _source_item_problems(self, entry: Any) -> list[str]:
        if not isinstance(entry, dict):
            return ["A source item must be an object."]
        problems = []
        if not str(entry.get("sku") or "").strip():
            problems.append('"sku" can not be empty.')
        if entry.get("source_code") not in self.sources:
            problems.append(f"Source with code \"{entry.get('source_code')}\" does not exist.")
        if not isinstance(entry.get("quantity", 0), (int, float)) or isinstance(entry.get("quantity"), bool):
            problems.append('"quantity" should be numeric.')
        if entry.get("status", 1) not in (0, 1):
            problems.append('"status" should be numeric and one of 0 (out of stock) or 1 (in stock).')
        return problems

    # ---- test helpers (Python, not HTTP) --------------------------------------------------------
    def add_order(self, entity_id: int | None = None, state: str = "processing", **fields: Any) -> dict[str, Any]:
        """Store an order (see `order_json`)."""
        with self._state_lock:
            entity_id = entity_id or next(self._order_ids)
            self._orders[entity_id] = order_json(entity_id, state, **fields)
            return copy.deepcopy(self._orders[entity_id])

    def update_order(self, entity_id: int, **changes: Any) -> dict[str, Any]:
        """Change a stored order and move its `updated_at` (pass `updated_at=` to choose it)."""
        with self._state_lock:
            order = self._orders[int(entity_id)]
            if "state" in changes and "status" not in changes:
                changes["status"] = {"new": "pending"}.get(changes["state"], changes["state"])
            order.update(changes)
            order["updated_at"] = changes.get("updated_at") or magento_date()
            return copy.deepcopy(order)

    def order(self, entity_id: int) -> dict[str, Any] | None:
        with self._state_lock:
            return copy.deepcopy(self._orders.get(int(entity_id)))

    def add_source_item(self, sku: str, quantity: float = 0, status: int = 1, source_code: str = "default") -> None:
        """A product assigned to a source (Magento assigns new products to `default`)."""
        with self._state_lock:
            self.sources.add(source_code)
            self._source_items[(sku, source_code)] = {"sku": sku, "source_code": source_code,
                                                       "quantity": float(quantity), "status": status}

    def add_product(self, sku: str, type_id: str = "simple", status: int = 1) -> dict[str, Any]:
        """A catalog product (`status` 1 enabled, 2 disabled), as `GET V1/products` lists it."""
        with self._state_lock:
            entity_id = len(self._products) + 1
            self._products[sku] = {"id": entity_id, "entity_id": entity_id, "sku": sku, "name": f"Product {sku}",
                                   "attribute_set_id": 4, "price": 19.99, "status": status, "visibility": 4,
                                   "type_id": type_id, "created_at": magento_date(), "updated_at": magento_date(),
                                   "extension_attributes": {"website_ids": [1]}}
            return copy.deepcopy(self._products[sku])

    def source_item(self, sku: str, source_code: str = "default") -> dict[str, Any] | None:
        with self._state_lock:
            return copy.deepcopy(self._source_items.get((sku, source_code)))

    def shipments(self, order_id: int) -> list[dict[str, Any]]:
        with self._state_lock:
            return [copy.deepcopy(s) for s in self._shipments.values() if s["order_id"] == int(order_id)]

    @property
    def emails(self) -> list[dict[str, Any]]:
        with self._state_lock:
            return copy.deepcopy(self._emails)

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            return copy.deepcopy({"orders": list(self._orders.values()), "shipments": list(self._shipments.values()),
                                  "source_items": list(self._source_items.values()), "emails": self._emails})


def _resource(path: str) -> str:
    found = re.match(ROOT + r"([a-z]+)", path)
    return RESOURCES.get(found.group(2) if found else "", "Magento_Backend::admin")


def _json_body(req: Request) -> dict[str, Any]:
    if req.json_error or not isinstance(req.json, dict):
        raise error(400, "The request data is invalid.")
    return req.json


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _open(item: Mapping[str, Any]) -> float:
    return float(item["qty_ordered"]) - float(item["qty_shipped"]) - float(item.get("qty_canceled") or 0) \
        - float(item.get("qty_refunded") or 0)
