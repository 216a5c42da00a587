"""Magento onboarding: no webhooks (orders are polled, consumers/magento_orders.py); the credentials read orders,
and the Inventory Management source exists and is enabled (docs/connect.md)."""
from __future__ import annotations

import requests

from carts.magento.api import MagentoAPI, search_criteria
from carts.onboarding import Check, Subscription, failed, passed
from outbound.errors import Permanent
from schemas.connection import Connection

REFUSED = (401, 403)


class MagentoOnboarding:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._connection = connection
        self._api = MagentoAPI(connection, timeout=timeout, session=session)

    def topics(self) -> list[str]:
        return []  # polled: nothing to subscribe

    def subscriptions(self) -> list[Subscription]:
        return []

    def create(self, topic: str, address: str) -> None:
        raise Permanent("Magento takes no webhook subscription: its orders are polled")

    point_here = delete = create  # never reached: there is nothing to subscribe, so nothing to change

    def checks(self) -> list[Check]:
        lines = [self._reads_orders()]
        if self._connection.sync_inventory:
            lines.append(self._source())
        return lines

    def _reads_orders(self) -> Check:
        try:
            self._api.get("orders", search_criteria([], page_size=1, page=1))
        except Permanent as error:
            if error.status in REFUSED:
                return failed("credentials", f"refused ({error.status})",
                              "check the integration's tokens and its Sales > Orders resource access")
            raise
        return passed("credentials", "read orders")

    def _source(self) -> Check:
        code = self._connection.source_code
        label = f"source {code}"
        try:
            source = self._api.get(f"inventory/sources/{code}")
        except Permanent as error:
            if error.status in REFUSED:
                return failed(label, f"may not read sources ({error.status})",
                              "grant the integration Stores > Inventory > Sources")
            raise
        if not source:
            return failed(label, "the store has no such source", "set source_code to one of the store's sources")
        if not source.get("enabled"):
            return failed(label, f"{source.get('name', '')} is disabled", "enable it under Stores > Sources")
        return passed(label, f"{source.get('name', '')}, enabled")
