"""Local stand-in for the WooCommerce REST API v3 (reference/cart-apis.md §2).

Everything lives under `/wp-json/wc/v3/` with HTTP Basic auth `consumer_key:consumer_secret` (or
the `consumer_key` / `consumer_secret` query parameters, which real stores accept over HTTPS
only). Errors are WordPress `WP_Error`s: `{"code": ..., "message": ..., "data": {"status": N}}`.
The Shipment Tracking extension (`/wp-json/wc-shipment-tracking/v3/`) answers only when the
stand-in is built with `shipment_tracking=True`, as on a store that has it installed.

Behaviours copied from WooCommerce because they bite clients:
- dates have one-second resolution and `modified_after` is strictly "after" (a reconciler that
  keeps the newest `date_modified_gmt` as its cursor must overlap, or it skips same-second edits);
- `products?sku=` also finds variations (`type: "variation"`, `parent_id`);
- `stock_quantity` and `backorders` are ignored unless `manage_stock` is true, and
  `stock_status` is computed from them while stock is managed;
- every customer note and every status change to `completed` (or `processing`) emails the
  customer (see `emails`); adding a tracking bumps the order's `date_modified_gmt`.

Point a connection at it with `store_url: <standin.store_url>`.
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import itertools
import math
import threading
import zlib
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlencode

from .httpserver import HttpError, Request, Response, StandIn, json_response, ok, route

API_PREFIX = "/wp-json/wc/v3/"
TRACKING_PREFIX = "/wp-json/wc-shipment-tracking/v3/"
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                  "failed", "trash", "checkout-draft")
BACKORDERS = ("no", "notify", "yes")
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_BATCH = 10, 100, 100
NO_ROUTE = "No route was found matching the URL and request method."
#: List filters on dates: (parameter, order field, +1 for "after" / -1 for "before").
DATE_FILTERS = (("after", "date_created_gmt", 1), ("before", "date_created_gmt", -1),
                ("modified_after", "date_modified_gmt", 1),
                ("modified_before", "date_modified_gmt", -1))
DEFAULT_LINES = ({"sku": "SKU-1", "quantity": 1, "price": "19.99"},)
#: Status changes that send the customer an email (template ids as WooCommerce names them).
STATUS_EMAILS = {"completed": ("customer_completed_order", "Your order is now complete"),
                 "processing": ("customer_processing_order", "Thank you for your order")}
TRACKING_LINKS = {"ups": "https://www.ups.com/track?tracknum={}",
                  "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
                  "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
                  "dhl us": "https://www.dhl.com/us-en/home/tracking.html?tracking-id={}"}
_UNAUTHENTICATED = {  # what WooCommerce answers a request without credentials, by method
    "GET": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "POST": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "PUT": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
}


# ---- errors ------------------------------------------------------------------------------------
def wp_error(status: int, code: str, message: str, **data: Any) -> HttpError:
    """A WordPress REST error (`WP_Error` serialised)."""
    return HttpError(status, wp_body(status, code, message, **data))


def wp_body(status: int, code: str, message: str, **data: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status, **data}}


def invalid_param(name: str, why: str) -> HttpError:
    return wp_error(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why})


def missing_param(name: str) -> HttpError:
    return wp_error(400, "rest_missing_callback_param", f"Missing parameter(s): {name}",
                    params=[name])


# ---- dates -------------------------------------------------------------------------------------
def wc_date(moment: datetime | None = None) -> str:
    """WooCommerce's `*_gmt` format: seconds, no zone (`2017-03-22T19:28:02`)."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def parse_date(text: str) -> datetime:
    """An ISO-8601 request date; without a zone it is site time, which here is UTC."""
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _date_param(req: Request, name: str) -> datetime | None:
    if not req.query.get(name):
        return None
    try:
        return parse_date(req.query[name])
    except ValueError:
        raise invalid_param(name, "Invalid date.") from None


# ---- payload builders (also used by sandbox.sample) --------------------------------------------
def stable_id(sku: str) -> int:
    """A product id derived from the SKU, so samples and the store agree on it."""
    return 100 + zlib.crc32(sku.encode()) % 90000


def address(first: str = "Jane", last: str = "Doe", company: str = "",
            email: str | None = "jane.doe@example.com") -> dict[str, Any]:
    """A billing address; drop `email` for a shipping one (Woo's shipping has no email)."""
    found = {"first_name": first, "last_name": last, "company": company,
             "address_1": "969 Market", "address_2": "Suite 4", "city": "San Francisco",
             "state": "CA", "postcode": "94103", "country": "US", "phone": "+1 555-625-1199"}
    return {**found, "email": email} if email is not None else found


def line_item(order_id: int, index: int, line: Mapping[str, Any]) -> dict[str, Any]:
    """One order line from `{"sku", "quantity", "price"}` (+ optional ids and name)."""
    quantity, price = int(line.get("quantity", 1)), float(line.get("price", "19.99"))
    total = f"{price * quantity:.2f}"
    sku = line.get("sku") or ""
    return {"id": line.get("id") or order_id * 100 + index + 1,
            "name": line.get("name") or f"Sample item {sku}",
            "product_id": line.get("product_id") or stable_id(sku),
            "variation_id": line.get("variation_id") or 0, "quantity": quantity,
            "tax_class": "", "subtotal": total, "subtotal_tax": "0.00", "total": total,
            "total_tax": "0.00", "taxes": [], "meta_data": [], "sku": sku, "price": price}


def order_json(order_id: int, status: str = "processing",
               line_items: Iterable[Mapping[str, Any]] = DEFAULT_LINES,
               billing: Mapping[str, Any] | None = None,
               shipping: Mapping[str, Any] | None = None, date_created: str | None = None,
               date_modified: str | None = None, date_paid: str | None = None,
               currency: str = "USD", customer_note: str = "", **fields: Any) -> dict[str, Any]:
    """A WooCommerce v3 order as `GET orders/{id}` and the order webhooks deliver it.

    Paid statuses (processing, completed, on-hold) get `date_paid_gmt` = creation time unless
    `date_paid` says otherwise; `pending` orders are unpaid.
    """
    created = date_created or wc_date()
    modified = date_modified or created
    lines = [line_item(order_id, i, line) for i, line in enumerate(line_items)]
    paid = date_paid or (created if status in ("processing", "completed", "on-hold") else None)
    total = f"{sum(float(li['total']) for li in lines):.2f}"
    return {
        "id": order_id, "parent_id": 0, "number": str(order_id),
        "order_key": f"wc_order_{hashlib.md5(str(order_id).encode()).hexdigest()[:13]}",
        "created_via": "checkout", "version": "9.4.0", "status": status, "currency": currency,
        "date_created": created, "date_created_gmt": created, "date_modified": modified,
        "date_modified_gmt": modified, "discount_total": "0.00", "discount_tax": "0.00",
        "shipping_total": "0.00", "shipping_tax": "0.00", "cart_tax": "0.00", "total": total,
        "total_tax": "0.00", "prices_include_tax": False, "customer_id": 0,
        "customer_note": customer_note,
        "billing": dict(billing) if billing is not None else address(),
        "shipping": dict(shipping) if shipping is not None else address(email=None),
        "payment_method": "bacs", "payment_method_title": "Direct bank transfer",
        "transaction_id": "", "date_paid": paid, "date_paid_gmt": paid,
        "date_completed": None, "date_completed_gmt": None, "meta_data": [],
        "line_items": lines, "tax_lines": [],
        "shipping_lines": [{"id": order_id * 100 + 99, "method_title": "Flat rate",
                            "method_id": "flat_rate", "total": "0.00", "total_tax": "0.00"}],
        "fee_lines": [], "coupon_lines": [], "refunds": [], **fields}


# ---- request parsing ---------------------------------------------------------------------------
def _credentials(req: Request) -> tuple[str, str] | None:
    header = req.headers.get("Authorization") or ""
    if header.lower().startswith("basic "):
        try:
            key, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return key, secret
    if "consumer_key" in req.query:
        return req.query["consumer_key"], req.query.get("consumer_secret", "")
    return None


def _int_param(req: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    text = req.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.") from None
    if value < low or (high is not None and value > high):
        why = (f"{name} must be between {low} (inclusive) and {high} (inclusive)" if high
               else f"{name} must be greater than or equal to {low}")
        raise invalid_param(name, why)
    return value


def _enum_param(req: Request, name: str, allowed: Sequence[str], default: str) -> str:
    value = req.query.get(name) or default
    if value not in allowed:
        raise invalid_param(name, f"{name} is not one of {', '.join(allowed)}.")
    return value


def _body(req: Request) -> dict[str, Any]:
    if req.json_error or (req.body and not isinstance(req.json, dict)):
        raise wp_error(400, "rest_invalid_json", "Invalid JSON body passed.")
    return req.json or {}


def _as_int(value: Any) -> int | None:
    """WordPress's `rest_is_integer`: 5, 5.0 and "5" are integers; True and "5.5" are not."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == int(number) else None


def _as_bool(value: Any) -> bool | None:
    """WordPress's `rest_sanitize_boolean` accepts true/false, 1/0 and their strings."""
    if isinstance(value, bool):
        return value
    return {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())


def page_of(req: Request, rows: list[dict[str, Any]]) -> Response:
    """Slice one page and add WordPress's `X-WP-Total`, `X-WP-TotalPages` and `Link` headers."""
    per_page = _int_param(req, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _int_param(req, "page", 1, 1)
    pages = math.ceil(len(rows) / per_page)
    headers = {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(pages)}
    links = [(p, rel) for p, rel in ((page - 1, "prev"), (page + 1, "next")) if 1 <= p <= pages]
    if links:
        headers["Link"] = ", ".join(f'<{_page_url(req, p)}>; rel="{rel}"' for p, rel in links)
    return 200, headers, rows[(page - 1) * per_page: page * per_page]


def _by_id(req: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Products and variations newest first, or `order=asc` (the stand-in sorts them by id, whatever `orderby`)."""
    return sorted(rows, key=lambda p: p["id"], reverse=_enum_param(req, "order", ("asc", "desc"), "desc") == "desc")


def _page_url(req: Request, page: int) -> str:
    host = req.headers.get("Host") or "localhost"
    query = {k: v for k, v in req.query.items() if k not in ("consumer_key", "consumer_secret")}
    return f"http://{host}{req.path}?{urlencode({**query, 'page': page})}"


class WooCommerceStandIn(StandIn):
    """One WooCommerce store: orders (with notes and trackings), products and variations.

    State is seeded with the Python helpers (`add_order`, `add_product`, `add_variation`) and
    read back with `order`, `product`, `notes`, `trackings` and `emails`.
    """

    name = "woocommerce"
    path_prefix = API_PREFIX

    def __init__(self, consumer_key: str = "ck_test", consumer_secret: str = "cs_test",
                 port: int = 0, shipment_tracking: bool = False) -> None:
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.shipment_tracking = shipment_tracking
        self._state_lock = threading.RLock()
        self.reset_state()
        super().__init__(port)

    def reset_state(self) -> None:
        with self._state_lock:
            self._orders: dict[int, dict[str, Any]] = {}
            self._notes: dict[int, list[dict[str, Any]]] = {}
            self._trackings: dict[int, list[dict[str, Any]]] = {}
            self._products: dict[int, dict[str, Any]] = {}
            self._emails: list[dict[str, Any]] = []
            self._note_ids = itertools.count(5001)
            self._order_ids = itertools.count(727)
            self._webhooks: dict[int, dict[str, Any]] = {}
            self._webhook_ids = itertools.count(1)

    @property
    def store_url(self) -> str:
        """What a connection's `store_url` should be (the API is under `/wp-json/wc/v3/`)."""
        return self.base_url

    # ---- HTTP plumbing ---------------------------------------------------------------------
    def authenticate(self, req: Request) -> Response | None:
        given = _credentials(req)
        if given is None:
            code, message = _UNAUTHENTICATED.get(req.method, _UNAUTHENTICATED["PUT"])
            return json_response(401, wp_body(401, code, message))
        if given[0] != self.consumer_key:
            return json_response(401, wp_body(401, "woocommerce_rest_authentication_error",
                                              "Consumer key is invalid."))
        if given[1] != self.consumer_secret:
            return json_response(401, wp_body(401, "woocommerce_rest_authentication_error",
                                              "Consumer secret is invalid."))
        return None

    def not_found(self, req: Request) -> Response:
        return json_response(404, wp_body(404, "rest_no_route", NO_ROUTE))

    def fault_body(self, status: int) -> Any:
        return wp_body(status, "sandbox_injected_fault", f"Injected fault: HTTP {status}")

    @route("GET", r"/_sandbox/state", public=True)
    def _sandbox_state(self, req: Request) -> Response:
        """Read-only debug view of orders, notes, trackings, products and emails."""
        return ok(self.state())

    # ---- orders ----------------------------------------------------------------------------
    @route("GET", r"orders")
    def _list_orders(self, req: Request) -> Response:
        return page_of(req, self._order_rows(req))

    def _order_rows(self, req: Request) -> list[dict[str, Any]]:
        orderby = _enum_param(req, "orderby", ("date", "id", "include", "title", "slug",
                                               "modified"), "date")
        order = _enum_param(req, "order", ("asc", "desc"), "desc")
        wanted = [s for s in (req.query.get("status") or "any").split(",") if s]
        bad = [s for s in wanted if s not in ("any", *ORDER_STATUSES)]
        if bad:
            raise invalid_param("status", f"status is not one of any, {', '.join(ORDER_STATUSES)}.")
        bounds = [(field, bound, sign) for param, field, sign in DATE_FILTERS
                  if (bound := _date_param(req, param)) is not None]
        with self._state_lock:
            rows = [copy.deepcopy(o) for o in self._orders.values()
                    if _status_matches(o["status"], wanted) and _dates_match(o, bounds)]
        key = {"id": "id", "modified": "date_modified_gmt"}.get(orderby, "date_created_gmt")
        return sorted(rows, key=lambda o: (o[key], o["id"]), reverse=order == "desc")

    @route("GET", r"orders/(?P<id>\d+)")
    def _get_order(self, req: Request) -> Response:
        return ok(self._order_or_404(req.params["id"]))

    @route("PUT", r"orders/(?P<id>\d+)")
    @route("POST", r"orders/(?P<id>\d+)")
    @route("PATCH", r"orders/(?P<id>\d+)")
    def _update_order(self, req: Request) -> Response:
        body = _body(req)
        if "status" in body and body["status"] not in ORDER_STATUSES:
            raise invalid_param("status", f"status is not one of {', '.join(ORDER_STATUSES)}.")
        with self._state_lock:
            self._order_or_404(req.params["id"])
            return ok(self._apply_order_changes(int(req.params["id"]), body))

    def _apply_order_changes(self, order_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        order = self._orders[order_id]
        before = copy.deepcopy(order)
        for part in ("billing", "shipping"):
            if isinstance(body.get(part), dict):
                order[part] = {**order[part], **body[part]}
        if "customer_note" in body:
            order["customer_note"] = str(body["customer_note"])
        if isinstance(body.get("meta_data"), list):
            order["meta_data"] = _merge_meta(order["meta_data"], body["meta_data"])
        if body.get("status") and body["status"] != order["status"]:
            self._change_status(order, body["status"])
        if order != before:  # WooCommerce saves (and re-dates) only what changed
            order["date_modified"] = order["date_modified_gmt"] = wc_date()
        return copy.deepcopy(order)

    def _change_status(self, order: dict[str, Any], status: str) -> None:
        old, order["status"] = order["status"], status
        self._add_note(order["id"], f"Order status changed from {_label(old)} to "
                                    f"{_label(status)}.", customer_note=False, by_user=False)
        if status == "completed":
            order["date_completed"] = order["date_completed_gmt"] = wc_date()
        if status in STATUS_EMAILS:
            template, subject = STATUS_EMAILS[status]
            self._email(order, template, subject)

    def _order_or_404(self, order_id: str | int) -> dict[str, Any]:
        with self._state_lock:
            found = self._orders.get(int(order_id))
            if found is None:
                raise wp_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return copy.deepcopy(found)

    # ---- order notes -----------------------------------------------------------------------
    @route("GET", r"orders/(?P<id>\d+)/notes")
    def _list_notes(self, req: Request) -> Response:
        kind = _enum_param(req, "type", ("any", "customer", "internal"), "any")
        with self._state_lock:
            self._order_exists_for_notes(req.params["id"])
            notes = self._notes.get(int(req.params["id"]), [])
            wanted = [n for n in notes
                      if kind == "any" or n["customer_note"] == (kind == "customer")]
            return ok(copy.deepcopy(list(reversed(wanted))))  # newest first

    @route("POST", r"orders/(?P<id>\d+)/notes")
    def _create_note(self, req: Request) -> Response:
        body = _body(req)
        if not str(body.get("note") or "").strip():
            raise missing_param("note")
        with self._state_lock:
            self._order_exists_for_notes(req.params["id"])
            note = self._add_note(int(req.params["id"]), str(body["note"]),
                                  customer_note=bool(_as_bool(body.get("customer_note", False))),
                                  by_user=bool(_as_bool(body.get("added_by_user", False))))
        return 201, {}, note

    def _order_exists_for_notes(self, order_id: str) -> None:
        if int(order_id) not in self._orders:
            raise wp_error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")

    def _add_note(self, order_id: int, text: str, customer_note: bool,
                  by_user: bool) -> dict[str, Any]:
        stamp = wc_date()
        note = {"id": next(self._note_ids), "author": "admin" if by_user else "WooCommerce",
                "date_created": stamp, "date_created_gmt": stamp, "note": text,
                "customer_note": customer_note, "added_by_user": by_user}
        self._notes.setdefault(order_id, []).append(note)
        if customer_note:  # WooCommerce mails every customer note to the buyer
            self._email(self._orders[order_id], "customer_note", "A note has been added to your "
                                                                 "order", note=text)
        return copy.deepcopy(note)

    def _email(self, order: Mapping[str, Any], template: str, subject: str, **extra: Any) -> None:
        to = (order.get("billing") or {}).get("email")
        if to:  # no billing email, no customer email
            self._emails.append({"order_id": order["id"], "to": to, "template": template,
                                 "subject": subject, **extra})

    # ---- products and variations -----------------------------------------------------------
    @route("GET", r"products")
    def _list_products(self, req: Request) -> Response:
        skus = [s for s in (req.query.get("sku") or "").split(",") if s]
        with self._state_lock:
            # With `sku`, WooCommerce searches variations too (post_type product + variation).
            rows = [self._product_view(p) for p in self._products.values()
                    if (p["sku"] in skus if skus else p["type"] != "variation")]
        return page_of(req, _by_id(req, rows))

    @route("GET", r"products/(?P<id>\d+)")
    def _get_product(self, req: Request) -> Response:
        with self._state_lock:
            return ok(self._product_view(self._product_or_404(req.params["id"])))

    @route("PUT", r"products/(?P<id>\d+)")
    @route("POST", r"products/(?P<id>\d+)")
    @route("PATCH", r"products/(?P<id>\d+)")
    def _update_product(self, req: Request) -> Response:
        with self._state_lock:
            return ok(self._update_stock(self._product_or_404(req.params["id"]), _body(req)))

    @route("POST", r"products/batch")
    def _batch_products(self, req: Request) -> Response:
        return ok(self._batch(_body(req), self._product_or_404))

    @route("GET", r"products/(?P<id>\d+)/variations")
    def _list_variations(self, req: Request) -> Response:
        skus = [s for s in (req.query.get("sku") or "").split(",") if s]
        with self._state_lock:
            parent = self._product_or_404(req.params["id"])
            rows = [self._product_view(p) for p in self._products.values()
                    if p["parent_id"] == parent["id"] and (not skus or p["sku"] in skus)]
        return page_of(req, _by_id(req, rows))

    @route("GET", r"products/(?P<id>\d+)/variations/(?P<vid>\d+)")
    def _get_variation(self, req: Request) -> Response:
        with self._state_lock:
            return ok(self._product_view(self._variation_or_404(req.params["id"],
                                                                req.params["vid"])))

    @route("PUT", r"products/(?P<id>\d+)/variations/(?P<vid>\d+)")
    @route("POST", r"products/(?P<id>\d+)/variations/(?P<vid>\d+)")
    @route("PATCH", r"products/(?P<id>\d+)/variations/(?P<vid>\d+)")
    def _update_variation(self, req: Request) -> Response:
        with self._state_lock:
            variation = self._variation_or_404(req.params["id"], req.params["vid"])
            return ok(self._update_stock(variation, _body(req)))

    @route("POST", r"products/(?P<id>\d+)/variations/batch")
    def _batch_variations(self, req: Request) -> Response:
        with self._state_lock:
            parent = self._product_or_404(req.params["id"])
        return ok(self._batch(_body(req), lambda vid: self._variation_or_404(parent["id"], vid)))

    def _batch(self, body: Mapping[str, Any], lookup: Any) -> dict[str, Any]:
        """`{"create": [...], "update": [...], "delete": [...]}`; one failed item does not stop
        the others (it answers `{"id", "error"}` in its place). Only `update` is modelled."""
        actions = {k: body.get(k) or [] for k in ("create", "update", "delete") if k in body}
        if sum(len(v) for v in actions.values()) > MAX_BATCH:
            raise wp_error(413, "woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {MAX_BATCH} items for this request.")
        answer: dict[str, Any] = {}
        with self._state_lock:
            for action, entries in actions.items():
                answer[action] = [self._batch_one(action, entry, lookup) for entry in entries]
        return answer

    def _batch_one(self, action: str, entry: Any, lookup: Any) -> dict[str, Any]:
        entry_id = entry.get("id") if isinstance(entry, dict) else entry
        if action != "update":
            return {"id": entry_id or 0, "error": {"code": "sandbox_not_modelled",
                                                   "message": f"batch {action} is not modelled",
                                                   "data": {"status": 501}}}
        try:
            return self._update_stock(lookup(_as_int(entry_id) or 0), entry)
        except HttpError as err:
            return {"id": entry_id or 0, "error": err.response[2]}

    def _update_stock(self, record: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
        changes = _stock_changes(body)
        stored = self._products[record["id"]]
        before = copy.deepcopy(stored)
        stored.update(changes)
        _validate_props(stored)
        if stored != before:
            stored["date_modified"] = stored["date_modified_gmt"] = wc_date()
        return self._product_view(stored)

    def _product_or_404(self, product_id: Any) -> dict[str, Any]:
        found = self._products.get(int(product_id))
        # Variations have their own endpoint; the products one refuses them.
        if found is None or found["type"] == "variation":
            raise wp_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return copy.deepcopy(found)

    def _variation_or_404(self, parent_id: Any, variation_id: Any) -> dict[str, Any]:
        found = self._products.get(int(variation_id))
        if found is None or found["parent_id"] != int(parent_id):
            raise wp_error(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return copy.deepcopy(found)

    def _product_view(self, record: Mapping[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(dict(record))
        allowed = record["manage_stock"] and record["backorders"] != "no"
        view.update(backorders_allowed=allowed,
                    backordered=bool(allowed and (record["stock_quantity"] or 0) <= 0),
                    variations=sorted(p["id"] for p in self._products.values()
                                      if p["parent_id"] == record["id"]))
        return view

    # ---- Shipment Tracking extension -------------------------------------------------------
    @route("GET", TRACKING_PREFIX + r"orders/(?P<id>\d+)/shipment-trackings")
    def _list_trackings(self, req: Request) -> Response:
        self._tracking_installed()
        with self._state_lock:
            self._tracking_order(req.params["id"])
            return ok(copy.deepcopy(self._trackings.get(int(req.params["id"]), [])))

    @route("POST", TRACKING_PREFIX + r"orders/(?P<id>\d+)/shipment-trackings")
    def _create_tracking(self, req: Request) -> Response:
        self._tracking_installed()
        body = _body(req)
        if not str(body.get("tracking_number") or "").strip():
            raise missing_param("tracking_number")
        with self._state_lock:
            order = self._tracking_order(req.params["id"])
            tracking = _tracking(body, len(self._trackings.get(order["id"], [])))
            self._trackings.setdefault(order["id"], []).append(tracking)
            # The extension saves the list as order meta, so the order counts as modified.
            stored = self._orders[order["id"]]
            stored["date_modified"] = stored["date_modified_gmt"] = wc_date()
        return 201, {}, copy.deepcopy(tracking)

    def _tracking_installed(self) -> None:
        if not self.shipment_tracking:  # the extension's routes do not exist at all
            raise wp_error(404, "rest_no_route", NO_ROUTE)

    def _tracking_order(self, order_id: str) -> dict[str, Any]:
        found = self._orders.get(int(order_id))
        if found is None:
            raise wp_error(404, "woocommerce_rest_order_invalid_id", "Order ID is invalid.")
        return found

    # ---- webhooks (wc/v3/webhooks) ---------------------------------------------------------
    @route("GET", r"webhooks")
    def _list_webhooks(self, req: Request) -> Response:
        with self._state_lock:
            rows = [_webhook_view(w) for w in sorted(self._webhooks.values(), key=lambda w: w["id"])]
        return page_of(req, rows)

    @route("POST", r"webhooks")
    def _create_webhook(self, req: Request) -> Response:
        body = _body(req)
        _check_webhook(body, creating=True)
        with self._state_lock:
            webhook_id = next(self._webhook_ids)
            stamp = wc_date()
            self._webhooks[webhook_id] = {
                "id": webhook_id, "name": str(body.get("name") or f"Webhook created on {stamp}"),
                "status": body.get("status", "active"), "topic": body["topic"], "delivery_url": body["delivery_url"],
                "secret": str(body.get("secret") or ""), "date_created_gmt": stamp, "date_modified_gmt": stamp,
                "api_version": "wp_api_v3"}
            return 201, {}, _webhook_view(self._webhooks[webhook_id])

    @route("PUT", r"webhooks/(?P<id>\d+)")
    @route("POST", r"webhooks/(?P<id>\d+)")
    def _update_webhook(self, req: Request) -> Response:
        body = _body(req)
        _check_webhook(body, creating=False)
        with self._state_lock:
            webhook = self._webhook_or_404(req.params["id"])
            webhook.update({k: body[k] for k in ("name", "status", "topic", "delivery_url", "secret") if k in body},
                           date_modified_gmt=wc_date())
            return ok(_webhook_view(webhook))

    @route("DELETE", r"webhooks/(?P<id>\d+)")
    def _delete_webhook(self, req: Request) -> Response:
        if req.query.get("force") not in ("true", "1"):
            raise wp_error(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        with self._state_lock:
            webhook = self._webhook_or_404(req.params["id"])
            del self._webhooks[webhook["id"]]
            return ok(_webhook_view(webhook))

    def _webhook_or_404(self, webhook_id: str) -> dict[str, Any]:
        found = self._webhooks.get(int(webhook_id))
        if found is None:
            raise wp_error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        return found

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook as stored, secrets included (a test helper)."""
        with self._state_lock:
            return copy.deepcopy(sorted(self._webhooks.values(), key=lambda w: w["id"]))

    def add_webhook(self, topic: str, delivery_url: str, **fields: Any) -> dict[str, Any]:
        """A webhook made by hand or by another app (a test helper)."""
        with self._state_lock:
            webhook_id = next(self._webhook_ids)
            self._webhooks[webhook_id] = {"id": webhook_id, "name": f"Webhook {webhook_id}", "status": "active",
                                          "topic": topic, "delivery_url": delivery_url, "secret": "",
                                          "api_version": "wp_api_v3", **fields}
            return copy.deepcopy(self._webhooks[webhook_id])

    @route("GET", r"/wp-json/wc-shipment-tracking/v3/?")
    def _tracking_namespace(self, req: Request) -> Response:
        """WordPress's index of a REST namespace: there only while the extension is installed."""
        self._tracking_installed()
        return ok({"namespace": "wc-shipment-tracking/v3", "routes": {}})

    # ---- test helpers (Python, not HTTP) ---------------------------------------------------
    def add_order(self, order_id: int | None = None, status: str = "processing",
                  line_items: Iterable[Mapping[str, Any]] = DEFAULT_LINES,
                  date_paid: str | None = None, billing: Mapping[str, Any] | None = None,
                  shipping: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Store an order (see `order_json`). Line items name `sku`, `quantity`, `price`; their
        `product_id` / `variation_id` come from this store's catalog when the SKU is in it."""
        with self._state_lock:
            order_id = order_id or next(self._order_ids)
            lines = [self._with_catalog_ids(line) for line in line_items]
            order = order_json(order_id, status, lines, billing, shipping, date_paid=date_paid,
                               **fields)
            self._orders[order_id] = order
            return copy.deepcopy(order)

    def _with_catalog_ids(self, line: Mapping[str, Any]) -> dict[str, Any]:
        found = self._by_sku(line.get("sku") or "")
        if found is None:
            return dict(line)
        variation = found["type"] == "variation"
        return {"product_id": found["parent_id"] if variation else found["id"],
                "variation_id": found["id"] if variation else 0, "name": found["name"], **line}

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change a stored order directly (no notes, no emails) and bump `date_modified_gmt`
        (pass `date_modified_gmt=...` to choose it)."""
        with self._state_lock:
            order = self._orders[int(order_id)]
            stamp = changes.pop("date_modified_gmt", None) or wc_date()
            order.update(changes, date_modified=stamp, date_modified_gmt=stamp)
            return copy.deepcopy(order)

    def order(self, order_id: int) -> dict[str, Any] | None:
        with self._state_lock:
            return copy.deepcopy(self._orders.get(int(order_id)))

    def add_product(self, sku: str, stock_quantity: int | None = 0, manage_stock: bool = True,
                    backorders: str = "no", product_id: int | None = None,
                    product_type: str = "simple", name: str | None = None,
                    price: str = "19.99") -> dict[str, Any]:
        """Create a product (`product_type` "simple" or "variable"); ids are stable per SKU."""
        with self._state_lock:
            return self._new_product(sku, product_id, 0, product_type, name or f"Product {sku}",
                                     price, manage_stock, stock_quantity, backorders)

    def add_variation(self, parent_sku_or_id: str | int, sku: str, stock_quantity: int | None = 0,
                      manage_stock: bool = True, backorders: str = "no",
                      variation_id: int | None = None, price: str = "19.99") -> dict[str, Any]:
        """Create a variation of a product (given by id or SKU). An unknown parent SKU becomes a
        new variable product; a simple parent becomes variable."""
        with self._state_lock:
            parent = self._parent_for(parent_sku_or_id)
            return self._new_product(sku, variation_id, parent["id"], "variation",
                                     f"{parent['name']} - {sku}", price, manage_stock,
                                     stock_quantity, backorders)

    def _parent_for(self, parent: str | int) -> dict[str, Any]:
        found = (self._products.get(parent) if isinstance(parent, int)
                 else self._by_sku(parent))
        if found is None and isinstance(parent, int):
            raise KeyError(f"no product {parent}")
        if found is None:
            found = self._new_product(str(parent), None, 0, "variable", f"Product {parent}",
                                      "19.99", False, None, "no")
        self._products[found["id"]]["type"] = "variable"
        return self._products[found["id"]]

    def _new_product(self, sku: str, product_id: int | None, parent_id: int, kind: str,
                     name: str, price: str, manage_stock: bool, quantity: int | None,
                     backorders: str) -> dict[str, Any]:
        if self._by_sku(sku) is not None:
            raise ValueError(f"SKU {sku} already exists")
        new_id = product_id or stable_id(sku)
        while new_id in self._products:  # a crc collision: take the next free id
            new_id += 1
        stamp = wc_date()
        record = {"id": new_id, "name": name, "slug": sku.lower(), "type": kind,
                  "status": "publish", "sku": sku, "price": price, "regular_price": price,
                  "sale_price": "", "parent_id": parent_id, "manage_stock": manage_stock,
                  "stock_quantity": quantity, "stock_status": "instock",
                  "backorders": backorders, "low_stock_amount": None, "date_created": stamp,
                  "date_created_gmt": stamp, "date_modified": stamp, "date_modified_gmt": stamp}
        _validate_props(record)
        self._products[new_id] = record
        return self._product_view(record)

    def _by_sku(self, sku: str) -> dict[str, Any] | None:
        return next((p for p in self._products.values() if p["sku"] == sku), None)

    def product(self, sku: str) -> dict[str, Any] | None:
        """The product or variation with this SKU, as the API shows it."""
        with self._state_lock:
            found = self._by_sku(sku)
            return self._product_view(found) if found else None

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        """The order's notes, oldest first (the API lists newest first)."""
        with self._state_lock:
            return copy.deepcopy(self._notes.get(int(order_id), []))

    def trackings(self, order_id: int) -> list[dict[str, Any]]:
        with self._state_lock:
            return copy.deepcopy(self._trackings.get(int(order_id), []))

    @property
    def emails(self) -> list[dict[str, Any]]:
        """Customer emails the store would have sent: `{order_id, to, template, subject, ...}`."""
        with self._state_lock:
            return copy.deepcopy(self._emails)

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            return copy.deepcopy({
                "orders": list(self._orders.values()),
                "products": [self._product_view(p) for p in self._products.values()],
                "notes": {str(k): v for k, v in self._notes.items()},
                "trackings": {str(k): v for k, v in self._trackings.items()},
                "webhooks": [_webhook_view(w) for w in self._webhooks.values()],
                "emails": self._emails})



# ---- webhooks ----------------------------------------------------------------------------------
WEBHOOK_TOPICS = frozenset({f"{resource}.{event}" for resource in ("order", "product", "customer", "coupon")
                            for event in ("created", "updated", "deleted", "restored")})


def _check_webhook(body: Mapping[str, Any], *, creating: bool) -> None:
    """WooCommerce's own refusals (WC_REST_Webhooks_Controller): a topic it knows, an http(s) delivery URL."""
    if (creating or "topic" in body) and str(body.get("topic") or "").lower() not in WEBHOOK_TOPICS:
        raise wp_error(400, "woocommerce_rest_webhook_invalid_topic", "Webhook topic is required and must be valid.")
    url = str(body.get("delivery_url") or "")
    if (creating or "delivery_url" in body) and not url.startswith(("http://", "https://")):
        raise wp_error(400, "woocommerce_rest_webhook_invalid_delivery_url",
                       "Webhook delivery URL must be a valid URL starting with http:// or https://.")
    if "status" in body and body["status"] not in ("active", "paused", "disabled"):
        raise invalid_param("status", "status is not one of active, paused, and disabled.")


def _webhook_view(webhook: Mapping[str, Any]) -> dict[str, Any]:
    """What the API answers: everything but the secret (it signs deliveries; it is never read back)."""
    resource, _, event = webhook["topic"].partition(".")
    return {**{k: v for k, v in webhook.items() if k != "secret"}, "resource": resource, "event": event}

# ---- small pure helpers ----------------------------------------------------------------------
def _dates_match(order: Mapping[str, Any], bounds: list[tuple[str, datetime, int]]) -> bool:
    """Strict comparisons, as WordPress's date queries are (`after` excludes the bound)."""
    return all((parse_date(order[field]) - bound).total_seconds() * sign > 0
               for field, bound, sign in bounds)


def _status_matches(status: str, wanted: list[str]) -> bool:
    return status in wanted or ("any" in wanted and status != "trash")


def _label(status: str) -> str:
    return status.replace("-", " ").title().replace("On Hold", "On hold")


def _merge_meta(current: list[dict[str, Any]], changes: list[Any]) -> list[dict[str, Any]]:
    """Meta entries are replaced by key (or id), new keys appended with a fresh id."""
    merged = [dict(m) for m in current]
    for change in (c for c in changes if isinstance(c, dict) and "key" in c):
        found = next((m for m in merged if m["key"] == change["key"]), None)
        if found is not None:
            found["value"] = change.get("value")
        else:
            merged.append({"id": 9000 + len(merged), "key": change["key"],
                           "value": change.get("value")})
    return merged


def _stock_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The stock fields of a product update, validated as the REST schema does."""
    changes: dict[str, Any] = {}
    if "manage_stock" in body:
        flag = _as_bool(body["manage_stock"])
        if flag is None:
            raise invalid_param("manage_stock", "manage_stock is not of type boolean.")
        changes["manage_stock"] = flag
    if "stock_quantity" in body:
        quantity = None if body["stock_quantity"] is None else _as_int(body["stock_quantity"])
        if body["stock_quantity"] is not None and quantity is None:
            raise invalid_param("stock_quantity", "stock_quantity is not of type integer.")
        changes["stock_quantity"] = quantity
    for name, allowed in (("backorders", BACKORDERS), ("stock_status", STOCK_STATUSES)):
        if name in body:
            if body[name] not in allowed:
                raise invalid_param(name, f"{name} is not one of {', '.join(allowed)}.")
            changes[name] = body[name]
    return changes


def _validate_props(record: dict[str, Any]) -> None:
    """`WC_Product::validate_props`: without managed stock, quantity is null and backorders "no"
    (stock_status stays as set); with it, stock_status follows quantity and backorders."""
    if not record["manage_stock"]:
        record.update(stock_quantity=None, backorders="no")
        return
    if (record["stock_quantity"] or 0) > 0:
        record["stock_status"] = "instock"
    else:
        record["stock_status"] = "onbackorder" if record["backorders"] != "no" else "outofstock"


def _tracking(body: Mapping[str, Any], index: int) -> dict[str, Any]:
    provider = str(body.get("tracking_provider") or body.get("custom_tracking_provider") or "")
    number = str(body["tracking_number"]).strip()
    template = TRACKING_LINKS.get(provider.lower())
    link = template.format(number) if template else str(body.get("custom_tracking_link") or "")
    shipped = body.get("date_shipped") or datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return {"tracking_id": hashlib.md5(f"{number}{index}".encode()).hexdigest(),
            "tracking_provider": provider, "tracking_link": link, "tracking_number": number,
            "date_shipped": str(shipped)[:10]}
