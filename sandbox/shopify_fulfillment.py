"""The Shopify stand-in as a fulfillment service's shop: `fulfillmentServiceCreate` / `Update`, `shop {
fulfillmentServices }`, `shop.assignedFulfillmentOrders` (also at the query root), and the four answers to
fulfillment and cancellation requests. Mixed into `ShopifyStandIn` (sandbox/shopify.py); test helpers
`request_fulfillment` / `request_cancellation` play the merchant.

Request statuses follow FulfillmentOrderRequestStatus: UNSUBMITTED -> SUBMITTED -> ACCEPTED | REJECTED;
ACCEPTED -> CANCELLATION_REQUESTED -> CANCELLATION_ACCEPTED | CANCELLATION_REJECTED.
"""
from __future__ import annotations

import copy
from typing import Any

from . import shopify_graphql as gql

_BY_ASSIGNMENT = {"FULFILLMENT_REQUESTED": {"SUBMITTED"}, "FULFILLMENT_ACCEPTED": {"ACCEPTED"},
                  "CANCELLATION_REQUESTED": {"CANCELLATION_REQUESTED"},
                  "FULFILLMENT_UNSUBMITTED": {"UNSUBMITTED"}}
_ANSWERS = {  # mutation -> (the request status it answers, the status it leaves, the FO status it leaves)
    "fulfillmentOrderAcceptFulfillmentRequest": ("SUBMITTED", "ACCEPTED", "IN_PROGRESS"),
    "fulfillmentOrderRejectFulfillmentRequest": ("SUBMITTED", "REJECTED", None),
    "fulfillmentOrderAcceptCancellationRequest": ("CANCELLATION_REQUESTED", "CANCELLATION_ACCEPTED", "CLOSED"),
    "fulfillmentOrderRejectCancellationRequest": ("CANCELLATION_REQUESTED", "CANCELLATION_REJECTED", None),
}


def _user_error(field: list[str], message: str, code: str | None = None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


class FulfillmentServiceShop:
    """State: `self.services` (id, serviceName, callbackUrl, inventoryManagement, trackingSupport, locationId);
    each fulfillment order carries `requestStatus`, `merchantRequests` and `answers` (what the service said)."""

    services: list[dict[str, Any]]

    # ---- queries -------------------------------------------------------------------------------
    def _shop_extras(self) -> dict[str, Any]:
        return {"fulfillmentServices": [self._service_view(s) for s in self.services],
                "assignedFulfillmentOrders": self.query_assignedFulfillmentOrders}

    def query_assignedFulfillmentOrders(self, args: dict[str, Any]) -> dict[str, Any]:
        from .shopify import page
        ours = {s["locationId"] for s in self.services}
        wanted = set(args.get("locationIds") or ours) & ours
        statuses = _BY_ASSIGNMENT.get(args.get("assignmentStatus")) if args.get("assignmentStatus") else None
        found = [self._fo_view(order, fo) for order in self._orders.values() for fo in order["fulfillmentOrders"]
                 if fo["locationId"] in wanted and fo["status"] != "CLOSED"
                 and (statuses is None or fo.get("requestStatus", "UNSUBMITTED") in statuses)]
        return page(found, args)

    # ---- mutations -----------------------------------------------------------------------------
    def mutation_fulfillmentServiceCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name")
        if not name:
            return {"fulfillmentService": None, "userErrors": [_user_error(["name"], "Name can't be blank")]}
        if any(s["serviceName"] == name for s in self.services):
            return {"fulfillmentService": None,
                    "userErrors": [_user_error(["name"], "Name has already been taken")]}
        location = self.add_location(self._new_id("Location"))
        service = {"id": self._new_id("FulfillmentService"), "serviceName": name,
                   "callbackUrl": args.get("callbackUrl"),
                   "inventoryManagement": bool(args.get("inventoryManagement")),
                   "trackingSupport": bool(args.get("trackingSupport")), "locationId": location}
        self.services.append(service)
        self.service_writes += 1
        return {"fulfillmentService": self._service_view(service), "userErrors": []}

    def mutation_fulfillmentServiceUpdate(self, args: dict[str, Any]) -> dict[str, Any]:
        service = next((s for s in self.services if s["id"] == args.get("id")), None)
        if service is None:
            return {"fulfillmentService": None,
                    "userErrors": [_user_error(["id"], "Fulfillment service could not be found.")]}
        for name in ("callbackUrl", "inventoryManagement", "trackingSupport"):
            if args.get(name) is not None:
                service[name] = args[name]
        self.service_writes += 1
        return {"fulfillmentService": self._service_view(service), "userErrors": []}

    def mutation_fulfillmentOrderAcceptFulfillmentRequest(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._answer("fulfillmentOrderAcceptFulfillmentRequest", args)

    def mutation_fulfillmentOrderRejectFulfillmentRequest(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._answer("fulfillmentOrderRejectFulfillmentRequest", args)

    def mutation_fulfillmentOrderAcceptCancellationRequest(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._answer("fulfillmentOrderAcceptCancellationRequest", args)

    def mutation_fulfillmentOrderRejectCancellationRequest(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._answer("fulfillmentOrderRejectCancellationRequest", args)

    def fail_answers(self, n: int = 1) -> None:
        """The next `n` answers to a request fail with INTERNAL_SERVER_ERROR (HTTP 200), changing nothing."""
        with self._state_lock:
            self._answer_failures = getattr(self, "_answer_failures", 0) + n

    def take_answers_again(self) -> None:
        """Answers succeed again: the failures `fail_answers` asked for and not yet used are dropped."""
        with self._state_lock:
            self._answer_failures = 0

    @property
    def answer_failures_left(self) -> int:
        """How many of the answers `fail_answers` asked to fail are still to come (each answer tried uses one)."""
        return getattr(self, "_answer_failures", 0)

    def _answer(self, mutation: str, args: dict[str, Any]) -> dict[str, Any]:
        if getattr(self, "_answer_failures", 0) > 0:
            self._answer_failures -= 1
            raise gql.GraphQLError("Internal error. Looks like something went wrong on our end.",
                                   code="INTERNAL_SERVER_ERROR")
        found = self._find_fulfillment_order(str(args.get("id")))
        if found is None:
            raise gql.GraphQLError("Invalid id: " + str(args.get("id")), code="RESOURCE_NOT_FOUND")
        order, fo = found
        answers, leaves, fo_status = _ANSWERS[mutation]
        if fo.get("requestStatus", "UNSUBMITTED") != answers or fo["locationId"] not in {
                s["locationId"] for s in self.services}:
            return {"fulfillmentOrder": None, "userErrors": [_user_error(
                ["id"], f"Cannot {mutation[16:22].lower()} request for fulfillment order in "
                        f"{fo.get('requestStatus', 'UNSUBMITTED').lower()} state.")]}
        fo["requestStatus"] = leaves
        if fo_status:
            fo["status"] = fo_status
        fo.setdefault("answers", []).append({"mutation": mutation, "message": args.get("message")})
        return {"fulfillmentOrder": self._fo_view(order, fo), "userErrors": []}

    # ---- views -----------------------------------------------------------------------------------
    @staticmethod
    def _service_view(service: dict[str, Any]) -> dict[str, Any]:
        return {**{k: service[k] for k in ("id", "serviceName", "callbackUrl", "inventoryManagement",
                                            "trackingSupport")},
                "location": {"id": service["locationId"]}}

    # ---- test helpers: the merchant --------------------------------------------------------------
    def request_fulfillment(self, order_id: int | str, *, notify_customer: bool = True,
                            message: str | None = None, only: list[str] | None = None) -> list[str]:
        """Send the fulfillment service every open, unsubmitted fulfillment order of the order at one of its
        locations (or only those in `only`); returns their ids."""
        return self._request(order_id, ("UNSUBMITTED",), "SUBMITTED", "FULFILLMENT_REQUEST",
                             {"notify_customer": notify_customer}, message, only)

    def request_cancellation(self, order_id: int | str, message: str | None = None) -> list[str]:
        """Ask the service to cancel the order's accepted fulfillment orders (again, after a rejected
        cancellation: the fulfillment order is still in progress); returns their ids."""
        return self._request(order_id, ("ACCEPTED", "CANCELLATION_REJECTED"), "CANCELLATION_REQUESTED",
                             "CANCELLATION_REQUEST", {}, message)

    def _request(self, order_id, before: tuple[str, ...], after: str, kind: str, options: dict, message,
                 only: list[str] | None = None) -> list[str]:
        from .shopify import now_iso, to_gid
        with self._state_lock:
            order = self._orders[to_gid("Order", order_id)]
            ours = {s["locationId"] for s in self.services}
            ids = []
            for fo in order["fulfillmentOrders"]:
                if fo["locationId"] in ours and fo.get("requestStatus", "UNSUBMITTED") in before and (
                        only is None or fo["id"] in only):
                    fo["requestStatus"] = after
                    fo.setdefault("merchantRequests", []).append(
                        {"id": self._new_id("FulfillmentOrderMerchantRequest"), "kind": kind, "message": message,
                         "requestOptions": options, "sentAt": now_iso()})
                    ids.append(fo["id"])
            return ids

    def fulfillment_order(self, fo_id: str) -> dict[str, Any] | None:
        with self._state_lock:
            found = self._find_fulfillment_order(fo_id)
            return copy.deepcopy(found[1]) if found else None

    def fulfillment_orders(self, order_id: int | str) -> list[dict[str, Any]]:
        from .shopify import to_gid
        with self._state_lock:
            return copy.deepcopy(self._orders[to_gid("Order", order_id)]["fulfillmentOrders"])
