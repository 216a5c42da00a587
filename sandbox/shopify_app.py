"""The Shopify stand-in as the app's installation sees it: its webhook subscriptions (`webhookSubscriptions`,
`webhookSubscriptionCreate` / `Update` / `Delete`), its access scopes (`currentAppInstallation`) and the shop's
locations (`location(id:)`). Mixed into `ShopifyStandIn` (sandbox/shopify.py); requests are validated against
Shopify's schema before these resolvers run, so they only supply data.

Shopify refuses a subscription address that is not https; the stand-in also takes http on a loopback host, where
bin/dev runs.
"""
from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

# What a fresh installation of cartbridge's app is granted (docs/connect.md lists what each switch needs).
DEFAULT_SCOPES = ("read_orders", "read_products", "write_inventory", "write_fulfillments",
                  "write_merchant_managed_fulfillment_orders", "write_assigned_fulfillment_orders")


def _user_error(field: list[str], message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


class AppInstallationShop:
    """State: `self.webhook_subscriptions` (id, topic, uri, format, includeFields), `self.access_scopes`,
    `self.deactivated_locations`; created by `reset_app_state`, which reset_state calls."""

    locations: list[str]
    services: list[dict[str, Any]]

    def reset_app_state(self) -> None:
        self.webhook_subscriptions: list[dict[str, Any]] = []
        self.access_scopes: list[str] = list(DEFAULT_SCOPES)
        self.deactivated_locations: set[str] = set()

    # ---- queries -------------------------------------------------------------------------------
    def query_webhookSubscriptions(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._state_lock:
            rows = copy.deepcopy(self.webhook_subscriptions)
        start = int(args["after"]) if args.get("after") else 0
        page = rows[start: start + int(args.get("first") or 50)]
        more = start + len(page) < len(rows)
        return {"nodes": page, "pageInfo": {"hasNextPage": more, "endCursor": str(start + len(page)) if page else None}}

    def query_currentAppInstallation(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._state_lock:
            return {"accessScopes": [{"handle": handle} for handle in self.access_scopes]}

    def query_location(self, args: dict[str, Any]) -> dict[str, Any] | None:
        wanted = args["id"]
        with self._state_lock:
            services = {s.get("locationId"): s.get("serviceName") for s in self.services}
            if wanted not in self.locations and wanted not in services:
                return None
            return {"id": wanted, "name": services.get(wanted) or f"Shop location {wanted.rsplit('/', 1)[-1]}",
                    "isActive": wanted not in self.deactivated_locations}

    # ---- mutations -----------------------------------------------------------------------------
    def mutation_webhookSubscriptionCreate(self, args: dict[str, Any]) -> dict[str, Any]:
        wanted = args["webhookSubscription"]
        refused = _address_error(wanted.get("uri"))
        if refused:
            return {"webhookSubscription": None, "userErrors": [refused]}
        with self._state_lock:
            if any(s["topic"] == args["topic"] and s["uri"] == wanted["uri"] for s in self.webhook_subscriptions):
                return {"webhookSubscription": None, "userErrors": [
                    _user_error(["webhookSubscription", "callbackUrl"], "Address for this topic has already been taken")]}
            subscription = {"id": self._new_id("WebhookSubscription"), "topic": args["topic"],
                            **_shape(wanted)}
            self.webhook_subscriptions.append(subscription)
            return {"webhookSubscription": {"id": subscription["id"]}, "userErrors": []}

    def mutation_webhookSubscriptionUpdate(self, args: dict[str, Any]) -> dict[str, Any]:
        wanted = args["webhookSubscription"]
        refused = _address_error(wanted.get("uri")) if "uri" in wanted else None
        with self._state_lock:
            found = next((s for s in self.webhook_subscriptions if s["id"] == args["id"]), None)
            if refused or found is None:
                return {"webhookSubscription": None,
                        "userErrors": [refused or _user_error(["id"], "Webhook subscription does not exist")]}
            found.update({key: wanted[key] for key in ("uri", "format", "includeFields") if key in wanted})
            return {"webhookSubscription": {"id": found["id"]}, "userErrors": []}

    def mutation_webhookSubscriptionDelete(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._state_lock:
            found = next((s for s in self.webhook_subscriptions if s["id"] == args["id"]), None)
            if found is None:
                return {"deletedWebhookSubscriptionId": None,
                        "userErrors": [_user_error(["id"], "Webhook subscription does not exist")]}
            self.webhook_subscriptions.remove(found)
            return {"deletedWebhookSubscriptionId": found["id"], "userErrors": []}

    # ---- test helpers (Python, not HTTP) ---------------------------------------------------------
    def add_webhook_subscription(self, topic: str, uri: str, **fields: Any) -> dict[str, Any]:
        """A subscription the app made earlier (e.g. pointing at an old host)."""
        with self._state_lock:
            subscription = {"id": self._new_id("WebhookSubscription"), "topic": topic, "uri": uri,
                            "format": "JSON", "includeFields": [], **fields}
            self.webhook_subscriptions.append(subscription)
            return copy.deepcopy(subscription)


def _shape(wanted: dict[str, Any]) -> dict[str, Any]:
    return {"uri": wanted.get("uri"), "format": wanted.get("format") or "JSON",
            "includeFields": list(wanted.get("includeFields") or [])}


def _address_error(uri: str | None) -> dict[str, Any] | None:
    target = urlsplit(uri or "")
    if target.scheme == "https" or (target.scheme == "http" and target.hostname in ("127.0.0.1", "localhost")):
        return None
    return _user_error(["webhookSubscription", "callbackUrl"], f"Address protocol {target.scheme or '(none)'}:// is "
                       "not supported")
