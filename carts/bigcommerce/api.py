"""BigCommerce REST client: `{api_base_url}/stores/{store_hash}/…`, header `X-Auth-Token`.

On 429 BigCommerce sends no Retry-After; it says when its window resets in `X-Rate-Limit-Time-Reset-Ms`.
"""
from __future__ import annotations

from typing import Any

import requests

from outbound.http import new_session, parse_retry_after, send
from schemas.connection import Connection


def rate_limit_wait(response: requests.Response) -> float | None:
    reset_ms = response.headers.get("X-Rate-Limit-Time-Reset-Ms")
    # Every answer carries the window's reset time; only a 429 means "wait for it" (a 5xx backs off normally).
    if response.status_code == 429 and reset_ms and reset_ms.isdigit():
        return int(reset_ms) / 1000.0
    return parse_retry_after(response.headers.get("Retry-After"))


class BigCommerceAPI:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._root = f"{connection.api_base_url}/stores/{connection.store_hash}"
        self._timeout = timeout
        self._session = session or new_session()
        self._headers = {"X-Auth-Token": connection.access_token or "", "Accept": "application/json"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """`path` starts with the version, e.g. `v2/orders/250`. 404 is returned; other failures raise."""
        url = f"{self._root}/{path.lstrip('/')}"
        return send(self._session, method, url, timeout=self._timeout, headers=self._headers,
                    retry_after=rate_limit_wait, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params)
        if response.status_code in (204, 404):
            return None
        return response.json()
