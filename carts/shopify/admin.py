"""Shopify Admin GraphQL API client: `{store_url}/admin/api/{version}/graphql.json`, `X-Shopify-Access-Token`.

Inputs always travel as GraphQL variables, never spliced into the query text. Throttling comes in two forms:
HTTP 429 with Retry-After, and HTTP 200 with `errors[].extensions.code == "THROTTLED"` plus the cost bucket in
`extensions.cost`; both become Retryable with the wait the bucket needs to refill.
"""
from __future__ import annotations

from typing import Any

import requests

from outbound.errors import Permanent, Retryable
from outbound.http import new_session, send
from schemas.connection import Connection

API_VERSION = "2026-10"  # from 2026-04 inventorySetQuantities takes changeFromQuantity (null = no compare)


def throttle_wait(cost: dict[str, Any] | None) -> float:
    """Seconds until the bucket holds enough points for the query that was refused."""
    if not cost:
        return 1.0
    status = cost.get("throttleStatus") or {}
    missing = (cost.get("requestedQueryCost") or 0) - (status.get("currentlyAvailable") or 0)
    return max(1.0, missing / max(1.0, status.get("restoreRate") or 50.0))


class ShopifyAdmin:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._url = f"{connection.store_url}/admin/api/{API_VERSION}/graphql.json"
        self._timeout = timeout
        self._session = session or new_session()
        self._headers = {"X-Shopify-Access-Token": connection.access_token or "", "Content-Type": "application/json"}

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one operation; returns `data`. Raises Retryable (throttled, 5xx) or Permanent (other errors)."""
        response = send(self._session, "POST", self._url, timeout=self._timeout, headers=self._headers,
                        json={"query": query, "variables": variables or {}})
        if response.status_code == 404:
            raise Permanent(f"POST {self._url} answered 404 (wrong store URL or API version)", status=404,
                            url=self._url)
        body = response.json()
        errors = body.get("errors")
        if errors:
            raise self._error(errors, body.get("extensions", {}).get("cost"))
        return body.get("data") or {}

    def _error(self, errors: Any, cost: dict | None) -> Exception:
        codes = {(e.get("extensions") or {}).get("code") for e in errors} if isinstance(errors, list) else set()
        if "THROTTLED" in codes:
            return Retryable("Shopify GraphQL throttled", retry_after=throttle_wait(cost), body=errors, url=self._url)
        if "INTERNAL_SERVER_ERROR" in codes:
            return Retryable("Shopify GraphQL internal error", body=errors, url=self._url)
        return Permanent("Shopify GraphQL refused the operation", status=200, body=errors, url=self._url)
