"""Shopify onboarding: the app's webhook subscriptions (orders create / paid / updated / cancelled, JSON, only the
fields cartbridge reads), the "Fulfilled by Infoplus" service of a fulfillment-service connection, the token's
access scopes for the switches, and the location (docs/connect.md).

Subscriptions made through the Admin API belong to the app: its token lists only its own, and signs deliveries with
the app's client secret — the connection's `webhook_secret`.
"""
from __future__ import annotations

from typing import Any

import requests

from carts.onboarding import Check, Subscription, failed, passed, scope_checks
from carts.shopify.admin import ShopifyAdmin
from carts.shopify.fulfillment_service import FIND_SERVICES, ShopifyFulfillmentService
from outbound.errors import Permanent
from schemas.connection import Connection
from schemas.shopify import ShopifyOrderSchema

ORDER_TOPICS = ["ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_CANCELLED"]
SERVICE_TOPIC = "fulfillment service"  # the service's callback URL is the connection's address too
SERVICE_NAME = "Infoplus"
# Every delivery carries only what the order schema reads: smaller bodies, less personal data in Kafka.
INCLUDE_FIELDS = sorted(ShopifyOrderSchema().fields)

LIST_SUBSCRIPTIONS = """
query WebhookSubscriptions($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { id topic uri format includeFields }
    pageInfo { hasNextPage endCursor }
  }
}"""

CREATE_SUBSCRIPTION = """
mutation CreateWebhookSubscription($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id }
    userErrors { field message }
  }
}"""

UPDATE_SUBSCRIPTION = """
mutation UpdateWebhookSubscription($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id }
    userErrors { field message }
  }
}"""

DELETE_SUBSCRIPTION = """
mutation DeleteWebhookSubscription($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}"""

ACCESS_SCOPES = "query AccessScopes { currentAppInstallation { accessScopes { handle } } }"

LOCATION = "query Location($id: ID!) { location(id: $id) { id name isActive } }"


def required_scopes(connection: Connection) -> dict[str, str]:
    """Scope -> what needs it, for the switches in force (docs/connect.md)."""
    needed: dict[str, str] = {}
    if connection.sync_orders or connection.switches_from == "infoplus":
        needed["read_orders"] = "order webhooks"
    if connection.fulfillment_service:
        needed["write_assigned_fulfillment_orders"] = "fulfillment requests"
    if connection.sync_inventory or connection.previewing("inventory"):
        needed.update(read_products="finding a SKU's variant", write_inventory="Sync Inventory")
    if connection.sync_tracking_data or connection.previewing("tracking"):
        needed["write_fulfillments"] = "Sync Tracking Data"
        if not connection.fulfillment_service:
            needed["write_merchant_managed_fulfillment_orders"] = "Sync Tracking Data"
    return needed


class ShopifyOnboarding:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._connection = connection
        self._admin = ShopifyAdmin(connection, timeout=timeout, session=session)
        self._service = ShopifyFulfillmentService(connection, timeout=timeout, session=session)

    def topics(self) -> list[str]:
        topics = list(ORDER_TOPICS) if self._connection.sync_orders or self._connection.switches_from == "infoplus" \
            else []
        return topics + [SERVICE_TOPIC] if self._connection.fulfillment_service else topics

    # -- subscriptions -----------------------------------------------------------------------------------------
    def subscriptions(self) -> list[Subscription]:
        found, after = [], None
        while True:
            page = self._admin.graphql(LIST_SUBSCRIPTIONS, {"after": after}).get("webhookSubscriptions") or {}
            found += [Subscription(id=node["id"], topic=node.get("topic") or "", address=node.get("uri") or "",
                                   problem=self._shape_problem(node)) for node in page.get("nodes") or []]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                break
            after = info.get("endCursor")
        return found + self._services()

    @staticmethod
    def _shape_problem(node: dict[str, Any]) -> str:
        """JSON with exactly the fields cartbridge reads; anything else is corrected like a wrong address."""
        if node.get("format") != "JSON":
            return f"sends {node.get('format')}"
        if sorted(node.get("includeFields") or []) != INCLUDE_FIELDS:
            return "sends other fields than cartbridge reads"
        return ""

    def _services(self) -> list[Subscription]:
        if not self._connection.fulfillment_service:
            return []
        services = self._admin.graphql(FIND_SERVICES).get("shop", {}).get("fulfillmentServices") or []
        return [Subscription(id=s["id"], topic=SERVICE_TOPIC, address=s.get("callbackUrl") or "",
                             problem="" if s.get("inventoryManagement") and s.get("trackingSupport")
                             else "has inventory or tracking support off")
                for s in services if s.get("serviceName") == SERVICE_NAME]

    def create(self, topic: str, address: str) -> None:
        if topic == SERVICE_TOPIC:
            self._register_service(address)
            return
        self._mutate("webhookSubscriptionCreate", CREATE_SUBSCRIPTION,
                     {"topic": topic, "webhookSubscription": self._input(address)})

    def point_here(self, subscription: Subscription, address: str) -> None:
        if subscription.topic == SERVICE_TOPIC:
            self._register_service(address)
            return
        self._mutate("webhookSubscriptionUpdate", UPDATE_SUBSCRIPTION,
                     {"id": subscription.id, "webhookSubscription": self._input(address)})

    def delete(self, subscription: Subscription) -> None:
        if subscription.topic == SERVICE_TOPIC:
            raise Permanent("a fulfillment service is not deleted from here: its location holds inventory "
                            "(Shopify admin > Settings > Locations)")
        self._mutate("webhookSubscriptionDelete", DELETE_SUBSCRIPTION, {"id": subscription.id})

    @staticmethod
    def _input(address: str) -> dict[str, Any]:
        return {"uri": address, "format": "JSON", "includeFields": INCLUDE_FIELDS}

    def _register_service(self, address: str) -> None:
        registration = self._service.register(SERVICE_NAME, address)
        if registration.location_id != self._connection.location_id:
            raise Permanent(f"the fulfillment service's location is {registration.location_id}, but the connection "
                            f"says {self._connection.location_id}: set location_id: {registration.location_id}")

    def _mutate(self, field: str, query: str, variables: dict[str, Any]) -> None:
        answer = self._admin.graphql(query, variables).get(field) or {}
        if answer.get("userErrors"):
            raise Permanent(f"Shopify {field} refused: {answer['userErrors']}", status=200, body=answer["userErrors"])

    # -- checks ------------------------------------------------------------------------------------------------
    def checks(self) -> list[Check]:
        installation = self._admin.graphql(ACCESS_SCOPES).get("currentAppInstallation") or {}
        granted = {scope["handle"] for scope in installation.get("accessScopes") or []}
        # A write scope grants its read scope.
        granted |= {"read_" + handle[len("write_"):] for handle in granted if handle.startswith("write_")}
        lines = [passed("token", "the Admin API answers")]
        lines += scope_checks(granted, required_scopes(self._connection))
        if self._connection.sync_inventory or self._connection.sync_tracking_data or \
                self._connection.fulfillment_service:
            lines.append(self._location())
        return lines

    def _location(self) -> Check:
        wanted = self._connection.location_id
        if not wanted:
            return failed("location", "no location_id", "set location_id: the location whose stock cartbridge sets")
        label = f"location {wanted}"
        location = self._admin.graphql(LOCATION, {"id": wanted}).get("location")
        if not location:
            return failed(label, "the store has no such location", "set location_id to one of the store's")
        if not location.get("isActive"):
            return failed(label, f"{location.get('name', '')} is deactivated", "activate it in Shopify admin")
        return passed(label, f"{location.get('name', '')}, active")
