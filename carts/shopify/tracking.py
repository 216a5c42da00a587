"""Shopify tracking: fulfillment orders in, `fulfillmentCreate` out (reference/cart-apis.md §1.3).

Look before writing: first read the order's fulfillment-order lines and every tracking number its
fulfillments carry. A parcel whose number is already there is not sent again; goods already fulfilled are
not fulfilled again. A later carton whose goods are all fulfilled is added to the latest fulfillment with
`fulfillmentTrackingInfoUpdate`. `notifyCustomer` follows the connection's `notify_customer`.

A fulfillment service connection (`fulfillment_service: true`, docs/shopify-fulfillment-service.md) fulfils only
the fulfillment orders assigned to its own location whose request it accepted, and notifies the customer as the
merchant's fulfillment request asked (`notify_customer` in its `requestOptions`), else per connection.

Reading the whole order: `fulfillmentOrders` and each one's `lineItems` are cursor-paged connections, so a
page that says `hasNextPage` is followed with `after: endCursor` until the end (more fulfillment orders from
the order, more lines from `fulfillmentOrder(id:)`). `Order.fulfillments` is a plain list that `first` only
truncates: a full first answer is read again at the largest size, and an order with more fulfillments than
that is refused rather than risk a second fulfillment. An ordinary order is still one call; every call goes
through ShopifyAdmin (throttle, cost, timeouts), and a throttle mid-way retries the whole event, which has
written nothing yet.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import requests

from carts.shopify.admin import ShopifyAdmin
from carts.tracking import Parcel, PlannedWrite, TrackingPlan, TrackingUpdate, add_up, allocate, numbers_of
from outbound.errors import Permanent, Retryable
from schemas.connection import Connection

OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})

# Page sizes keep each query well under Shopify's 1,000-point single-query cost, where a nested connection
# costs 2 + first x (its node's cost): 10 fulfillment orders x 25 lines (~550) + 50 fulfillments (~100).
FULFILLMENT_ORDERS_PAGE = 10
LINE_ITEMS_PAGE = 25
MORE_LINE_ITEMS_PAGE = 100  # later pages of one fulfillment order's lines: a narrow query, so larger pages
FULFILLMENTS_FIRST = 50  # covers nearly every order in the first call
FULFILLMENTS_MOST = 250  # Shopify's largest `first` (as for connections)


def _paging(first: int, after: str) -> str:
    return f"first: {first}, after: {after}" if after else f"first: {first}"


def _lines(first: int, after: str = "") -> str:
    """A fulfillment order's lines, one page (`after` names the cursor variable of a later page)."""
    return (f"lineItems({_paging(first, after)}) {{ pageInfo {{ hasNextPage endCursor }} "
            "nodes { id totalQuantity remainingQuantity lineItem { sku } } }")


# A fulfillment service also reads whose each fulfillment order is, whether it accepted it, and what was asked.
_SERVICE_FIELDS = "requestStatus assignedLocation { location { id } } merchantRequests(first: 3) { nodes { kind requestOptions } }"


def _fulfillment_orders(after: str = "", service: bool = False) -> str:
    extra = f" {_SERVICE_FIELDS}" if service else ""
    return (f"fulfillmentOrders({_paging(FULFILLMENT_ORDERS_PAGE, after)}) {{ pageInfo {{ hasNextPage endCursor }} "
            f"nodes {{ id status{extra} {_lines(LINE_ITEMS_PAGE)} }} }}")


def _order_state(service: bool) -> str:
    return f"""
query TrackingState($id: ID!) {{
  order(id: $id) {{
    id
    {_fulfillment_orders(service=service)}
    fulfillments(first: {FULFILLMENTS_FIRST}) {{ {_FULFILLMENTS} }}
  }}
}}
"""


def _more_fulfillment_orders_query(service: bool) -> str:
    return f"""
query TrackingFulfillmentOrders($id: ID!, $after: String!) {{
  order(id: $id) {{ {_fulfillment_orders("$after", service)} }}
}}
"""


# Fulfillment orders a fulfillment service may fulfil: accepted (a pending or refused cancellation leaves it ours).
SERVICE_FULFILLABLE = frozenset({"ACCEPTED", "CANCELLATION_REQUESTED", "CANCELLATION_REJECTED"})


_FULFILLMENTS = "id createdAt trackingInfo { company number url }"

ORDER_STATE = _order_state(False)
MORE_FULFILLMENT_ORDERS = _more_fulfillment_orders_query(False)
SERVICE_ORDER_STATE = _order_state(True)
SERVICE_MORE_FULFILLMENT_ORDERS = _more_fulfillment_orders_query(True)

MORE_LINE_ITEMS = f"""
query TrackingFulfillmentOrderLines($id: ID!, $after: String!) {{
  fulfillmentOrder(id: $id) {{ {_lines(MORE_LINE_ITEMS_PAGE, "$after")} }}
}}
"""

ALL_FULFILLMENTS = f"""
query TrackingFulfillments($id: ID!) {{
  order(id: $id) {{ fulfillments(first: {FULFILLMENTS_MOST}) {{ {_FULFILLMENTS} }} }}
}}
"""

FULFILLMENT_CREATE = """
mutation CreateFulfillment($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""

TRACKING_UPDATE = """
mutation AddTracking($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput,
                                notifyCustomer: $notifyCustomer) {
    fulfillment { id }
    userErrors { field message }
  }
}
"""


@dataclass
class _OrderState:
    fulfillment_orders: list[dict[str, Any]]  # each with `lines`: every line, all pages read
    fulfillments: list[dict[str, Any]]

    def numbers(self) -> list[str]:
        return [info.get("number") or "" for f in self.fulfillments for info in f.get("trackingInfo") or []]

    def fulfilled(self) -> dict[str, int]:
        return add_up((_sku(line), line["totalQuantity"] - line["remainingQuantity"])
                      for fo in self.fulfillment_orders for line in fo["lines"])

    def open_lines(self) -> list[tuple[tuple[str, str], str | None, int]]:
        """((fulfillment order id, line id), SKU, remaining) for every line that can still be fulfilled."""
        return [((fo["id"], line["id"]), _sku(line), line["remainingQuantity"])
                for fo in self.fulfillment_orders if fo["status"] in OPEN_STATUSES
                for line in fo["lines"] if line["remainingQuantity"] > 0]


def every_node(page: dict[str, Any], next_page: Callable[[str], dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes of a connection: this page's, then each later page's (`next_page(endCursor)`) while
    `hasNextPage` says there is one."""
    nodes = list(page["nodes"])
    while page["pageInfo"]["hasNextPage"]:
        cursor = page["pageInfo"].get("endCursor")
        if not cursor:  # nothing to continue from: stop rather than loop on the same page
            raise Permanent("Shopify answered hasNextPage without an endCursor", status=200, body=page["pageInfo"])
        page = next_page(cursor)
        nodes.extend(page["nodes"])
    return nodes


def _sku(line: dict[str, Any]) -> str | None:
    return (line.get("lineItem") or {}).get("sku")


def tracking_input(parcels: list[Parcel]) -> dict[str, Any]:
    """FulfillmentTrackingInput for one or more cartons (one carrier: Infoplus ships an order with one)."""
    urls = [parcel.url for parcel in parcels]
    info: dict[str, Any] = {"company": parcels[0].carrier.shopify, "numbers": [p.tracking_no for p in parcels]}
    if all(urls):
        info["urls"] = urls
    return info


def _by_fulfillment_order(picked: list[tuple[tuple[str, str], int]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for (fo_id, line_id), quantity in picked:
        groups.setdefault(fo_id, []).append({"id": line_id, "quantity": quantity})
    return [{"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": lines} for fo_id, lines in groups.items()]


class ShopifyTracking:
    """TrackingWriter for one Shopify connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._admin = ShopifyAdmin(connection, timeout=timeout, session=session)
        self._service_location = connection.location_id if connection.fulfillment_service else None

    def write(self, update: TrackingUpdate) -> str:
        return self.plan(update).run()

    def plan(self, update: TrackingUpdate) -> TrackingPlan:
        order_gid = f"gid://shopify/Order/{update.cart_order_id}"
        state = self._read(order_gid)
        now = {"order": order_gid, "tracking_numbers": state.numbers(), "fulfilled": state.fulfilled()}
        missing = update.missing(state.numbers())
        if not missing:
            return TrackingPlan(now, note=f"{order_gid} already shows tracking "
                                          f"{', '.join(p.tracking_no for p in update.parcels)}")
        picked = allocate(update.to_fulfil(state.fulfilled()), state.open_lines())
        notify = _requested_notify(state, picked, update.notify_customer)
        if picked:
            items = add_up((sku, quantity) for (_, sku, _), quantity in _with_skus(picked, state))
            return TrackingPlan(now, (PlannedWrite(
                "fulfillment", f"fulfillmentCreate on {order_gid}: {_units(items)} with {_numbers(missing)}",
                numbers_of(missing), items, "Shopify shipping confirmation" if notify else None,
                perform=lambda: self._create(order_gid, picked, missing, notify)),))
        if state.fulfillments:
            return TrackingPlan(now, (PlannedWrite(
                "tracking_added", f"fulfillmentTrackingInfoUpdate on the latest fulfillment of {order_gid}: "
                                  f"adds {_numbers(missing)}", numbers_of(missing), {},
                "Shopify shipping update" if notify else None,
                perform=lambda: self._add_to_latest(state, missing, notify)),))
        raise Permanent(f"nothing Infoplus order {update.infoplus_order_no} shipped ({dict(update.shipped)}) is open "
                        f"in Shopify order {order_gid}, which has no fulfillment to add tracking to")

    def _read(self, order_gid: str) -> _OrderState:
        """The whole order: one call, plus one per further page an unusually large order needs."""
        order = self._order(SERVICE_ORDER_STATE if self._service_location else ORDER_STATE, order_gid)
        listed = every_node(order["fulfillmentOrders"], lambda cursor: self._more_fulfillment_orders(order_gid, cursor))
        if self._service_location:  # only ours, and only what we accepted to fulfil
            listed = [fo for fo in listed if (fo.get("assignedLocation") or {}).get("location", {}).get("id")
                      == self._service_location and fo.get("requestStatus") in SERVICE_FULFILLABLE]
        fulfillment_orders = [self._with_every_line(fo) for fo in listed]
        fulfillments = order.get("fulfillments") or []
        if len(fulfillments) >= FULFILLMENTS_FIRST:  # the list may have been cut short: read it at full size
            fulfillments = self._every_fulfillment(order_gid)
        return _OrderState(fulfillment_orders, fulfillments)

    def _order(self, query: str, order_gid: str, **variables: Any) -> dict[str, Any]:
        order = self._admin.graphql(query, {"id": order_gid, **variables}).get("order")
        if order is None:
            raise Permanent(f"Shopify order {order_gid} not found (deleted, or the connection points at another shop)")
        return order

    def _more_fulfillment_orders(self, order_gid: str, cursor: str) -> dict[str, Any]:
        query = SERVICE_MORE_FULFILLMENT_ORDERS if self._service_location else MORE_FULFILLMENT_ORDERS
        return self._order(query, order_gid, after=cursor)["fulfillmentOrders"]

    def _with_every_line(self, fo: dict[str, Any]) -> dict[str, Any]:
        return {"id": fo["id"], "status": fo["status"], "requested_notify": _notify_option(fo),
                "lines": every_node(fo["lineItems"], lambda cursor: self._more_lines(fo["id"], cursor))}

    def _more_lines(self, fo_id: str, cursor: str) -> dict[str, Any]:
        found = self._admin.graphql(MORE_LINE_ITEMS, {"id": fo_id, "after": cursor}).get("fulfillmentOrder")
        if found is None:  # merged or moved away while we read: read the order again from the start
            raise Retryable(f"Shopify fulfillment order {fo_id} changed while its lines were being read")
        return found["lineItems"]

    def _every_fulfillment(self, order_gid: str) -> list[dict[str, Any]]:
        fulfillments = self._order(ALL_FULFILLMENTS, order_gid).get("fulfillments") or []
        if len(fulfillments) >= FULFILLMENTS_MOST:
            # Not paged by Shopify: a tracking number beyond these could not be seen, so a write could repeat it.
            raise Permanent(f"Shopify order {order_gid} has {FULFILLMENTS_MOST} or more fulfillments; cartbridge "
                            "cannot see them all to avoid a duplicate, so it leaves this shipment to a person")
        return fulfillments

    def _create(self, order_gid: str, picked: list, parcels: list[Parcel], notify: bool) -> str:
        fulfillment = {"lineItemsByFulfillmentOrder": _by_fulfillment_order(picked),
                       "trackingInfo": tracking_input(parcels), "notifyCustomer": notify}
        answer = self._admin.graphql(FULFILLMENT_CREATE, {"fulfillment": fulfillment})["fulfillmentCreate"]
        created = self._checked(answer, "fulfillmentCreate")["fulfillment"]
        return f"created fulfillment {created['id']} on {order_gid} with {_numbers(parcels)}"

    def _add_to_latest(self, state: _OrderState, parcels: list[Parcel], notify: bool) -> str:
        # fulfillmentTrackingInfoUpdate replaces the tracking info: send what is there plus the new cartons.
        latest = max(state.fulfillments, key=lambda f: f.get("createdAt") or "")
        shown = [info for info in latest.get("trackingInfo") or [] if info.get("number")]
        urls = [info.get("url") for info in shown] + [parcel.url for parcel in parcels]
        info: dict[str, Any] = {
            "company": (shown[0].get("company") if shown else None) or parcels[0].carrier.shopify,
            "numbers": [info["number"] for info in shown] + [parcel.tracking_no for parcel in parcels],
            **({"urls": urls} if all(urls) else {})}
        variables = {"fulfillmentId": latest["id"], "trackingInfoInput": info, "notifyCustomer": notify}
        answer = self._admin.graphql(TRACKING_UPDATE, variables)["fulfillmentTrackingInfoUpdate"]
        self._checked(answer, "fulfillmentTrackingInfoUpdate")
        return f"added {_numbers(parcels)} to fulfillment {latest['id']}"

    @staticmethod
    def _checked(answer: dict[str, Any] | None, mutation: str) -> dict[str, Any]:
        errors = (answer or {}).get("userErrors") or []
        if answer is None or errors:
            raise Permanent(f"Shopify {mutation} refused: {'; '.join(e.get('message', '') for e in errors)}",
                            status=200, body=errors)
        return answer


def _notify_option(fo: dict[str, Any]) -> bool | None:
    """`notify_customer` of the merchant's latest fulfillment request for this fulfillment order, if it said."""
    requests = [r for r in (fo.get("merchantRequests") or {}).get("nodes") or [] if r.get("kind") == "FULFILLMENT_REQUEST"]
    options = (requests[-1].get("requestOptions") or {}) if requests else {}
    value = options.get("notify_customer") if isinstance(options, dict) else None
    return value if isinstance(value, bool) else None


def _requested_notify(state: _OrderState, picked: list, default: bool) -> bool:
    """As the merchant's request for the fulfillment orders being fulfilled asked, else the connection's setting."""
    ids = {fo_id for (fo_id, _), _ in picked} if picked else {fo["id"] for fo in state.fulfillment_orders}
    asked = [fo["requested_notify"] for fo in state.fulfillment_orders
             if fo["id"] in ids and fo.get("requested_notify") is not None]
    return any(asked) if asked else default


def _numbers(parcels: list[Parcel]) -> str:
    return ", ".join(parcel.tracking_no for parcel in parcels)


def _with_skus(picked: list[tuple[tuple[str, str], int]], state: _OrderState) -> list[tuple[tuple, int]]:
    """The picked lines with their SKUs: ((line key, SKU, remaining), units)."""
    by_key = {key: (key, sku, remaining) for key, sku, remaining in state.open_lines()}
    return [(by_key[key], quantity) for key, quantity in picked]


def _units(items: dict[str, int]) -> str:
    return ", ".join(f"{quantity} × {sku}" for sku, quantity in sorted(items.items()))
