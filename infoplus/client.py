"""Infoplus v3.0 REST client (`{base}/infoplus-wms/api/v3.0/…`, header `API-Key`)."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from config.settings import Settings
from outbound.errors import Permanent
from outbound.http import new_session, send

API_PATH = "/infoplus-wms/api/v3.0"
SEARCH_PAGE_LIMIT = 250  # the API's maximum


def quote_filter_value(value: str) -> str:
    """A string literal in Infoplus's filter grammar."""
    return "'" + value.replace("'", "''") + "'"


class InfoplusClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: tuple[float, float] = (3.05, 10.0),
                 session: requests.Session | None = None) -> None:
        self._base = base_url.rstrip("/") + API_PATH
        self._timeout = timeout
        self._session = session or new_session()
        self._session.headers.update({"API-Key": api_key, "Accept": "application/json"})

    @classmethod
    def from_settings(cls, settings: Settings) -> "InfoplusClient":
        if not settings.infoplus_base_url or not settings.infoplus_api_key:
            raise SystemExit("INFOPLUS_BASE_URL and INFOPLUS_API_KEY must be set")
        timeout = (settings.http_connect_timeout_seconds, settings.http_read_timeout_seconds)
        return cls(settings.infoplus_base_url, settings.infoplus_api_key, timeout=timeout)

    def search(self, resource: str, filter_: str, *, page: int = 1, limit: int = SEARCH_PAGE_LIMIT) -> list[dict]:
        """One page of `GET {resource}/search` (a bare JSON array)."""
        url = f"{self._base}/{resource}/search?filter={quote(filter_)}&page={page}&limit={limit}"
        response = send(self._session, "GET", url, timeout=self._timeout)
        return [] if response.status_code == 404 else response.json()

    def find_orders(self, customer_order_no: str, lob_id: int) -> list[dict]:
        """Every Infoplus order made from one cart order (backorders add children such as 1234.001)."""
        filter_ = f"customerOrderNo eq {quote_filter_value(customer_order_no)} and lobId eq {lob_id}"
        return self.search("order", filter_)

    def get_order(self, order_no: float | str) -> dict | None:
        response = send(self._session, "GET", f"{self._base}/order/{order_no}", timeout=self._timeout)
        return None if response.status_code == 404 else response.json()

    def create_order(self, order: dict[str, Any]) -> dict:
        url = f"{self._base}/order"
        response = send(self._session, "POST", url, json=order, timeout=self._timeout)
        if response.status_code == 404:
            raise Permanent(f"POST {url} answered 404", status=404, body=response.text[:500], url=url)
        return response.json()
