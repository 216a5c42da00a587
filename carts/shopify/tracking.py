"""Shopify tracking: fulfillment orders in, `fulfillmentCreate` out (reference/cart-apis.md §1.3).

Look before writing: one query reads the order's open fulfillment-order lines and every tracking number its
fulfillments carry. A parcel whose number is already there is not sent again; goods already fulfilled are
not fulfilled again. A later carton whose goods are all fulfilled is added to the latest fulfillment with
`fulfillmentTrackingInfoUpdate`. `notifyCustomer` follows the connection's `notify_customer`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from carts.shopify.admin import ShopifyAdmin
from carts.tracking import Parcel, TrackingUpdate, add_up, allocate
from outbound.errors import Permanent
from schemas.connection import Connection

OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})

ORDER_STATE = """
query TrackingState($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 10) {
      nodes { id status lineItems(first: 50) { nodes { id totalQuantity remainingQuantity lineItem { sku } } } }
    }
    fulfillments(first: 50) { id createdAt trackingInfo { company number url } }
  }
}
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
    fulfillment_orders: list[dict[str, Any]]
    fulfillments: list[dict[str, Any]]

    def numbers(self) -> list[str]:
        return [info.get("number") or "" for f in self.fulfillments for info in f.get("trackingInfo") or []]

    def fulfilled(self) -> dict[str, int]:
        return add_up((_sku(line), line["totalQuantity"] - line["remainingQuantity"])
                      for fo in self.fulfillment_orders for line in fo["lineItems"]["nodes"])

    def open_lines(self) -> list[tuple[tuple[str, str], str | None, int]]:
        """((fulfillment order id, line id), SKU, remaining) for every line that can still be fulfilled."""
        return [((fo["id"], line["id"]), _sku(line), line["remainingQuantity"])
                for fo in self.fulfillment_orders if fo["status"] in OPEN_STATUSES
                for line in fo["lineItems"]["nodes"] if line["remainingQuantity"] > 0]


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

    def write(self, update: TrackingUpdate) -> str:
        order_gid = f"gid://shopify/Order/{update.cart_order_id}"
        state = self._read(order_gid)
        missing = update.missing(state.numbers())
        if not missing:
            return f"{order_gid} already shows tracking {', '.join(p.tracking_no for p in update.parcels)}"
        picked = allocate(update.to_fulfil(state.fulfilled()), state.open_lines())
        if picked:
            return self._create(order_gid, picked, missing, update.notify_customer)
        if state.fulfillments:
            return self._add_to_latest(state, missing, update.notify_customer)
        raise Permanent(f"nothing Infoplus order {update.infoplus_order_no} shipped ({dict(update.shipped)}) is open "
                        f"in Shopify order {order_gid}, which has no fulfillment to add tracking to")

    def _read(self, order_gid: str) -> _OrderState:
        order = self._admin.graphql(ORDER_STATE, {"id": order_gid}).get("order")
        if order is None:
            raise Permanent(f"Shopify order {order_gid} not found (deleted, or the connection points at another shop)")
        return _OrderState(order["fulfillmentOrders"]["nodes"], order.get("fulfillments") or [])

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


def _numbers(parcels: list[Parcel]) -> str:
    return ", ".join(parcel.tracking_no for parcel in parcels)
