"""Magento REST client: `{store_url}/rest/{store_code or default}/V1/…`, OAuth 1.0a or Bearer (carts.magento.auth).

Lists take Magento's search criteria in the query string (docs/magento.md §2): filters inside one filter group
are ORed, filter groups are ANDed. Magento answers a `currentPage` past the last page with the last page again,
so paging stops by `total_count`. Magento itself has no REST rate limit; a host's or WAF's 429 / 503 with
Retry-After is Retryable like any 5xx (outbound.http).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

import requests

from carts.magento.auth import auth_for
from outbound.http import new_session, send
from schemas.connection import Connection

PAGE_SIZE = 100
Filter = tuple[str, str, str]  # (field, value, condition_type)


def search_criteria(groups: Sequence[Sequence[Filter]], *, sort: Sequence[tuple[str, str]] = (),
                    page_size: int | None = None, page: int | None = None) -> dict[str, str]:
    """The query parameters for `groups` (AND of groups, each an OR of its filters), sort orders and a page."""
    params: dict[str, str] = {}
    for g, group in enumerate(groups):
        for f, (field, value, condition) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{g}][filters][{f}]"
            params.update({f"{prefix}[field]": field, f"{prefix}[value]": value,
                           f"{prefix}[condition_type]": condition})
    for s, (field, direction) in enumerate(sort):
        params.update({f"searchCriteria[sortOrders][{s}][field]": field,
                       f"searchCriteria[sortOrders][{s}][direction]": direction})
    if page_size is not None:
        params["searchCriteria[pageSize]"] = str(page_size)
    if page is not None:
        params["searchCriteria[currentPage]"] = str(page)
    return params or {"searchCriteria": ""}


def magento_time(moment: datetime) -> str:
    """Magento's date format for filters: UTC, `YYYY-MM-DD HH:MM:SS`."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _call(read: Callable[[], Any]) -> Any:
    return read()


class MagentoAPI:
    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._root = f"{connection.store_url}/rest/{connection.store_code or 'default'}/V1"
        self._timeout = timeout
        self._session = session or new_session()
        self._auth = auth_for(connection)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call; 404 is returned (a lookup's answer), other failures raise Retryable / Permanent."""
        return send(self._session, method, f"{self._root}/{path.lstrip('/')}", timeout=self._timeout,
                    auth=self._auth, headers={"Accept": "application/json"}, **kwargs)

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = self.request("GET", path, params=params)
        return None if response.status_code == 404 else response.json()

    def search(self, path: str, groups: Sequence[Sequence[Filter]], *, sort: Sequence[tuple[str, str]] = (),
               page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every item a search finds, page by page; stops by `total_count` (see the module docstring)."""
        for items in self.search_pages(path, groups, sort=sort, page_size=page_size):
            yield from items

    def search_pages(self, path: str, groups: Sequence[Sequence[Filter]], *, sort: Sequence[tuple[str, str]] = (),
                     page_size: int = PAGE_SIZE, read_page: Callable[[Callable[[], Any]], Any] = _call,
                     ) -> Iterator[list[dict[str, Any]]]:
        """`search`, a page at a time; `read_page` wraps each page's call (e.g. to wait out a 429 and ask again)."""
        page, seen = 1, 0
        while True:
            criteria = search_criteria(groups, sort=sort, page_size=page_size, page=page)
            answer = read_page(lambda: self.get(path, criteria)) or {}
            items = answer.get("items") or []
            yield items
            seen += len(items)
            if not items or seen >= int(answer.get("total_count") or 0):
                return
            page += 1

    def orders_updated_since(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Every order whose `updated_at` is at or after `since`, in any state.

        Sorted by `entity_id`, not by `updated_at`: an order updated while we page moves to the end of an
        `updated_at` order, shifting the pages and skipping one; in id order it keeps its place."""
        yield from self.search("orders", [[("updated_at", magento_time(since), "gteq")]],
                               sort=[("entity_id", "ASC")])
