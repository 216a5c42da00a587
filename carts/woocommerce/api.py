"""WooCommerce REST client: `{store_url}/wp-json/<namespace>/…` with HTTP Basic auth (consumer key / secret).

Core WooCommerce has no rate limit, but hosts and WAFs add one: 429/503 with Retry-After is honoured generically.
"""
from __future__ import annotations

from typing import Any

import requests

from outbound.http import new_session, send
from schemas.connection import Connection

CORE = "wc/v3"
SHIPMENT_TRACKING = "wc-shipment-tracking/v3"  # the Shipment Tracking extension's routes


class WooCommerceAPI:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._root = f"{connection.store_url}/wp-json"
        self._timeout = timeout
        self._session = session or new_session()
        self._auth = (connection.consumer_key or "", connection.consumer_secret or "")

    def request(self, method: str, path: str, *, namespace: str = CORE, **kwargs: Any) -> requests.Response:
        """One call; 404 is returned (a lookup's answer), other failures raise Retryable / Permanent."""
        url = f"{self._root}/{namespace}/{path.lstrip('/')}"
        return send(self._session, method, url, timeout=self._timeout, auth=self._auth, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params)
        return None if response.status_code == 404 else response.json()
