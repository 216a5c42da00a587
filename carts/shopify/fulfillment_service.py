"""Shopify as a fulfillment service ("Fulfilled by Infoplus"): the GraphQL operations, inputs as variables.

Shopify's flow (shopify.dev, "Build for fulfillment services"): the app registers a fulfillment service
(`fulfillmentServiceCreate`), which gets a location of its own. Fulfillment orders for goods stocked there are assigned
to it; the merchant (or Shopify) sends a fulfillment request and Shopify POSTs `{"kind": "FULFILLMENT_REQUEST"}` to
`<callbackUrl>/fulfillment_order_notification` (HMAC-signed like a webhook). The body names no order: the service
reads its fulfillment orders in that state (`shop.assignedFulfillmentOrders(assignmentStatus: FULFILLMENT_REQUESTED,
locationIds: [...])`) and accepts or rejects each request (`fulfillmentOrderAcceptFulfillmentRequest` /
`RejectFulfillmentRequest`). Cancellation requests arrive the same way (`kind: CANCELLATION_REQUEST`, status
CANCELLATION_REQUESTED) and are answered with `fulfillmentOrderAcceptCancellationRequest` / `RejectCancellationRequest`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import requests

from carts.shopify.admin import ShopifyAdmin
from outbound.errors import Permanent
from schemas.connection import Connection

FULFILLMENT_REQUESTED = "FULFILLMENT_REQUESTED"
CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"
KINDS = {"FULFILLMENT_REQUEST": FULFILLMENT_REQUESTED, "CANCELLATION_REQUEST": CANCELLATION_REQUESTED}
NOTIFICATION_PATH = "fulfillment_order_notification"  # Shopify appends it to the callback URL

_SERVICE_FIELDS = "id serviceName callbackUrl inventoryManagement trackingSupport location { id }"

FIND_SERVICES = f"query FulfillmentServices {{ shop {{ fulfillmentServices {{ {_SERVICE_FIELDS} }} }} }}"

CREATE_SERVICE = f"""
mutation CreateFulfillmentService($name: String!, $callbackUrl: URL!, $inventoryManagement: Boolean,
                                  $trackingSupport: Boolean) {{
  fulfillmentServiceCreate(name: $name, callbackUrl: $callbackUrl, inventoryManagement: $inventoryManagement,
                           trackingSupport: $trackingSupport) {{
    fulfillmentService {{ {_SERVICE_FIELDS} }}
    userErrors {{ field message }}
  }}
}}"""

UPDATE_SERVICE = f"""
mutation UpdateFulfillmentService($id: ID!, $callbackUrl: URL, $inventoryManagement: Boolean,
                                  $trackingSupport: Boolean) {{
  fulfillmentServiceUpdate(id: $id, callbackUrl: $callbackUrl, inventoryManagement: $inventoryManagement,
                           trackingSupport: $trackingSupport) {{
    fulfillmentService {{ {_SERVICE_FIELDS} }}
    userErrors {{ field message }}
  }}
}}"""

# `lineItem.currentQuantity` (the order's quantity of the line after edits) is kept at creation, so a later
# order webhook can tell an edit of our lines (consumers/order_changes.py).
_LINE_FIELDS = """
            id sku totalQuantity remainingQuantity requiresShipping
            lineItem { id sku currentQuantity }
            originalUnitPriceSet { shopMoney { amount } }"""

ASSIGNED = """
query Assigned($status: FulfillmentOrderAssignmentStatus, $locationIds: [ID!], $after: String) {
  shop {
    assignedFulfillmentOrders(first: 8, after: $after, assignmentStatus: $status, locationIds: $locationIds) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id status requestStatus
        assignedLocation { location { id } }
        order { id legacyResourceId name createdAt updatedAt email currencyCode }
        destination { firstName lastName company address1 address2 city province countryCode zip phone email }
        merchantRequests(first: 5) { nodes { kind message requestOptions sentAt } }
        cancellationRequests: merchantRequests(last: 1, kind: CANCELLATION_REQUEST) { nodes { id sentAt } }
        lineItems(first: 30) { pageInfo { hasNextPage endCursor } nodes { %s } }
      }
    }
  }
}""" % _LINE_FIELDS

WAITING = """
query Waiting($status: FulfillmentOrderAssignmentStatus, $locationIds: [ID!]) {
  shop { assignedFulfillmentOrders(first: 1, assignmentStatus: $status, locationIds: $locationIds) { nodes { id } } }
}"""

MORE_LINES = """
query MoreLines($id: ID!, $after: String) {
  fulfillmentOrder(id: $id) {
    lineItems(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { %s } }
  }
}""" % _LINE_FIELDS

_ANSWER = """
mutation {name}($id: ID!, $message: String) {{
  {field}(id: $id, message: $message) {{
    fulfillmentOrder {{ id status requestStatus }}
    userErrors {{ field message }}
  }}
}}"""
ANSWERS = {
    ("fulfillment", True): "fulfillmentOrderAcceptFulfillmentRequest",
    ("fulfillment", False): "fulfillmentOrderRejectFulfillmentRequest",
    ("cancellation", True): "fulfillmentOrderAcceptCancellationRequest",
    ("cancellation", False): "fulfillmentOrderRejectCancellationRequest",
}


@dataclass(frozen=True)
class Registration:
    service_id: str
    location_id: str
    callback_url: str
    changed: str  # "created", "updated" or "unchanged"


def callback_url(public_base_url: str, connection_id: int) -> str:
    """The prefix Shopify is given; it POSTs to `<this>/fulfillment_order_notification`."""
    return f"{public_base_url.rstrip('/')}/webhooks/carts/{connection_id}"


class ShopifyFulfillmentService:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._connection = connection
        self._admin = ShopifyAdmin(connection, timeout=timeout, session=session)

    # -- registering -------------------------------------------------------------------------------------------
    def register(self, name: str, callback: str) -> Registration:
        """Find the service (by callback URL, else by name) or create it; inventory and tracking support on.
        Re-running changes nothing."""
        services = self._admin.graphql(FIND_SERVICES).get("shop", {}).get("fulfillmentServices") or []
        found = next((s for s in services if (s.get("callbackUrl") or "").rstrip("/") == callback.rstrip("/")), None)
        found = found or next((s for s in services if s.get("serviceName") == name), None)
        wanted = {"callbackUrl": callback, "inventoryManagement": True, "trackingSupport": True}
        if found is None:
            service = self._mutate("fulfillmentServiceCreate", CREATE_SERVICE, {"name": name, **wanted})
            return self._registration(service, "created")
        if all(found.get(k) == v for k, v in wanted.items()):
            return self._registration(found, "unchanged")
        service = self._mutate("fulfillmentServiceUpdate", UPDATE_SERVICE, {"id": found["id"], **wanted})
        return self._registration(service, "updated")

    @staticmethod
    def _registration(service: dict[str, Any], changed: str) -> Registration:
        return Registration(service["id"], (service.get("location") or {}).get("id"), service.get("callbackUrl"),
                            changed)

    def _mutate(self, field: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = self._admin.graphql(query, variables).get(field) or {}
        if answer.get("userErrors"):
            raise Permanent(f"Shopify {field} refused: {answer['userErrors']}", status=200, body=answer["userErrors"])
        return answer.get("fulfillmentService") or answer.get("fulfillmentOrder") or {}

    # -- requests ----------------------------------------------------------------------------------------------
    def assigned(self, status: str) -> Iterator[dict[str, Any]]:
        """Fulfillment orders at this connection's location in `status`, every page."""
        after = None
        while True:
            variables = {"status": status, "locationIds": [self._connection.location_id], "after": after}
            found = (self._admin.graphql(ASSIGNED, variables).get("shop") or {}).get("assignedFulfillmentOrders") or {}
            for fo in found.get("nodes") or []:
                yield {**fo, "lines": self._lines(fo)}
            info = found.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")

    def waiting(self, status: str) -> bool:
        """Whether any fulfillment order at this connection's location is in `status` (one small query)."""
        variables = {"status": status, "locationIds": [self._connection.location_id]}
        found = (self._admin.graphql(WAITING, variables).get("shop") or {}).get("assignedFulfillmentOrders") or {}
        return bool(found.get("nodes"))

    def _lines(self, fo: dict[str, Any]) -> list[dict[str, Any]]:
        """Every line of a fulfillment order: the first page came with it, the rest are read here."""
        part = fo.get("lineItems") or {}
        lines = list(part.get("nodes") or [])
        while (part.get("pageInfo") or {}).get("hasNextPage"):
            variables = {"id": fo["id"], "after": part["pageInfo"].get("endCursor")}
            part = (self._admin.graphql(MORE_LINES, variables).get("fulfillmentOrder") or {}).get("lineItems") or {}
            lines += part.get("nodes") or []
        return lines

    def answer(self, request: str, fulfillment_order_id: str, accept: bool, message: str) -> list[dict[str, Any]]:
        """Accept or reject a fulfillment (`request="fulfillment"`) or cancellation request; returns the user
        errors (empty when Shopify took the answer)."""
        field = ANSWERS[(request, accept)]
        query = _ANSWER.format(name=field[0].upper() + field[1:], field=field)
        answer = self._admin.graphql(query, {"id": fulfillment_order_id, "message": message[:255]}).get(field) or {}
        return answer.get("userErrors") or []
