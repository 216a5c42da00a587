"""WooCommerce REST client: `{store_url}/wp-json/<namespace>/…` with HTTP Basic auth (consumer key / secret).

Core WooCommerce has no rate limit, but hosts and WAFs add one: 429/503 with Retry-After is honoured generically.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import requests

from outbound.http import new_session, send
from schemas.connection import Connection

CORE = "wc/v3"
PAGE_SIZE = 100  # the REST API's largest per_page
SHIPMENT_TRACKING = "wc-shipment-tracking/v3"  # the Shipment Tracking extension's routes


def _call(read: Callable[[], requests.Response]) -> requests.Response:
    return read()


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

    def orders_modified_after(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Every order modified after `since` (any status), page by page.

        Ordered by id, not by modification time, so an order modified while we page does not shift the pages.
        """
        params = {"modified_after": _gmt(since), "dates_are_gmt": "true", "orderby": "id", "order": "asc",
                  "status": "any"}
        for orders in self.pages("orders", params):
            yield from orders

    def pages(self, path: str, params: dict[str, Any],
              read_page: Callable[[Callable[[], requests.Response]], requests.Response] = _call,
              ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list, 100 a page, until `X-WP-TotalPages`; a 404 is an empty list. `read_page` wraps
        each page's call (e.g. to wait out a 429 and ask for the same page again)."""
        page, pages = 1, 1
        while page <= pages:
            response = read_page(lambda: self.request("GET", path, params={**params, "per_page": PAGE_SIZE,
                                                                           "page": page}))
            rows = [] if response.status_code == 404 else response.json()
            yield rows
            pages = _last_page(response, page, len(rows))
            page += 1


def _last_page(response: requests.Response, page: int, count: int) -> int:
    total = response.headers.get("X-WP-TotalPages", "")
    if total.isdigit():
        return int(total)
    return page + 1 if count == PAGE_SIZE else page  # no header (a proxy stripped it): a full page means more


def _gmt(moment: datetime) -> str:
    """WooCommerce's date format for query parameters, in GMT (with `dates_are_gmt=true`)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
