"""BigCommerce onboarding: `v3/hooks` (store/order/created, store/order/updated), the token's order scope and the
inventory location (docs/connect.md).

BigCommerce webhooks exist only through this API (no admin screen). They are the app's own: a token lists only its
app's hooks. Each delivery is signed with the app's client secret (Standard Webhooks), which is the connection's
`webhook_secret`: BigCommerce takes no per-hook secret, so registering one changes nothing there.
"""
from __future__ import annotations

from typing import Any

import requests

from carts.bigcommerce.api import BigCommerceAPI
from carts.bigcommerce.inventory import DEFAULT_LOCATION
from carts.onboarding import Check, Subscription, failed, order_topics_needed, passed, unknown, writes
from outbound.errors import Permanent
from schemas.connection import Connection

ORDER_SCOPES = ["store/order/created", "store/order/updated"]  # a cancellation is an update to status 5
PAGE_SIZE = 250
REFUSED = (401, 403)  # a token that is wrong (401) or lacks the scope (403)


class BigCommerceOnboarding:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._connection = connection
        self._api = BigCommerceAPI(connection, timeout=timeout, session=session)

    def topics(self) -> list[str]:
        return list(ORDER_SCOPES) if order_topics_needed(self._connection) else []

    def subscriptions(self) -> list[Subscription]:
        hooks, page = [], 1
        while True:
            answer = self._api.get("v3/hooks", page=page, limit=PAGE_SIZE) or {}
            hooks += [hook for hook in answer.get("data") or [] if isinstance(hook, dict)]
            pagination = (answer.get("meta") or {}).get("pagination") or {}
            if page >= int(pagination.get("total_pages") or 1):
                break
            page += 1
        return [Subscription(id=str(h.get("id")), topic=str(h.get("scope") or ""),
                             address=str(h.get("destination") or ""),
                             problem="" if h.get("is_active") else "is not active")
                for h in hooks]

    def create(self, topic: str, address: str) -> None:
        self._api.request("POST", "v3/hooks", json={"scope": topic, "destination": address, "is_active": True})

    def point_here(self, subscription: Subscription, address: str) -> None:
        self._api.request("PUT", f"v3/hooks/{subscription.id}", json={"destination": address, "is_active": True})

    def delete(self, subscription: Subscription) -> None:
        self._api.request("DELETE", f"v3/hooks/{subscription.id}")

    def checks(self) -> list[Check]:
        lines = [self._reads_orders()]
        if self._connection.sync_inventory:
            lines.append(self._location())
        if self._connection.sync_inventory or self._connection.sync_tracking_data:
            lines.append(unknown("token may write", f"{', '.join(writes(self._connection))} need the Orders and "
                                 "Products modify scopes: BigCommerce shows a token's scopes only in its admin"))
        lines.append(unknown("signature key", "BigCommerce signs with the app's client secret: webhook_secret must "
                             "be it (the first delivery shows it: a 401 in the web log means it is not)"))
        return lines

    def _reads_orders(self) -> Check:
        try:
            self._api.get("v2/orders", limit=1)
        except Permanent as error:
            if error.status in REFUSED:
                return failed("scope Orders", f"the token was refused ({error.status})",
                              "give the API account Orders: read-only or modify, or correct access_token")
            raise
        return passed("scope Orders", "the token reads orders")

    def _location(self) -> Check:
        wanted = int(self._connection.location_id or DEFAULT_LOCATION)
        label = f"location {wanted}"
        try:
            answer = self._api.get("v3/inventory/locations", **{"location_id:in": wanted}) or {}
        except Permanent as error:
            if error.status in REFUSED:
                return failed(label, f"the token may not read locations ({error.status})",
                              "give the API account Store Locations or Store Inventory: read-only")
            raise
        found: list[dict[str, Any]] = [row for row in answer.get("data") or [] if row.get("id") == wanted]
        if not found:
            return failed(label, "the store has no such location", "set location_id to one of the store's locations")
        if not found[0].get("enabled", True):
            return failed(label, f"{found[0].get('label', '')} is disabled", "enable it in the store's locations")
        return passed(label, f"{found[0].get('label', '')}, enabled")
