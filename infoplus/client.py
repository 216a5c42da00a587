"""Infoplus v3.0 REST client (`{base}/infoplus-wms/api/v3.0/…`, header `API-Key`)."""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence
from urllib.parse import quote

import requests

from config.settings import Settings
from outbound.errors import Permanent, Retryable
from outbound.http import new_session, send
from infoplus.keys import InfoplusKeys

API_PATH = "/infoplus-wms/api/v3.0"
SEARCH_PAGE_LIMIT = 250  # the API's maximum
REFUSED_KEY = (401, 403)  # Infoplus does not accept this API key (revoked, or its user lacks the permission)
UNPACED = 1e9  # calls per second: no pacing at all


def _call(read: Callable[[], list[dict]]) -> list[dict]:
    return read()


def quote_filter_value(value: str) -> str:
    """A string literal in Infoplus's filter grammar."""
    return "'" + value.replace("'", "''") + "'"


class InfoplusClient:
    """`api_key` is one key or several (API users of the same site); `keys` — the budget they share — paces every
    call and spreads calls over them. Without `keys` calls are not paced (tests, one-off commands)."""

    def __init__(self, base_url: str, api_key: str | Sequence[str], *, timeout: tuple[float, float] = (3.05, 10.0),
                 session: requests.Session | None = None, keys: InfoplusKeys | None = None) -> None:
        self._base = base_url.rstrip("/") + API_PATH
        self._timeout = timeout
        self._session = session or new_session()
        self._session.headers.update({"Accept": "application/json"})
        self._keys = keys or InfoplusKeys([api_key] if isinstance(api_key, str) else api_key,
                                          calls_per_second=UNPACED, site_calls_per_second=UNPACED)

    @classmethod
    def from_settings(cls, settings: Settings) -> "InfoplusClient":
        keys = settings.infoplus_keys
        if not settings.infoplus_base_url or not keys:
            raise SystemExit("INFOPLUS_BASE_URL and INFOPLUS_API_KEY (or INFOPLUS_API_KEYS) must be set")
        return cls(settings.infoplus_base_url, keys, timeout=settings.http_timeout,
                   keys=InfoplusKeys(keys, calls_per_second=settings.infoplus_calls_per_second,
                                     site_calls_per_second=settings.infoplus_site_calls_per_second,
                                     increase=settings.infoplus_rate_increase_per_second))

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Every call spends a turn of one key's budget (a 429 cuts it). A key Infoplus refuses is set aside and the
        call made again with another: a refused call did nothing, so this cannot double anything."""
        while True:
            key = self._keys.take()
            try:
                response = send(self._session, method, url, headers={"API-Key": key.value}, **kwargs)
            except Retryable as error:
                if error.status == 429:
                    self._keys.throttled(key, error.retry_after)
                raise
            except Permanent as error:
                if error.status not in REFUSED_KEY:
                    self._keys.succeeded(key)
                    raise
                self._keys.refused(key, error.status)
                continue
            self._keys.succeeded(key)
            return response

    def search(self, resource: str, filter_: str, *, page: int = 1, limit: int = SEARCH_PAGE_LIMIT,
               sort: str | None = None) -> list[dict]:
        """One page of `GET {resource}/search` (a bare JSON array); `sort` is a field, `!field` for descending."""
        url = f"{self._base}/{resource}/search?filter={quote(filter_)}&page={page}&limit={limit}"
        if sort:
            url += f"&sort={quote(sort)}"
        response = self._send("GET", url, timeout=self._timeout)
        return [] if response.status_code == 404 else response.json()

    def find_orders(self, customer_order_no: str, lob_id: int) -> list[dict]:
        """Every Infoplus order made from one cart order (backorders add children such as 1234.001)."""
        filter_ = f"customerOrderNo eq {quote_filter_value(customer_order_no)} and lobId eq {lob_id}"
        return self.search("order", filter_)

    def get_order(self, order_no: float | str) -> dict | None:
        response = self._send("GET", f"{self._base}/order/{order_no}", timeout=self._timeout)
        return None if response.status_code == 404 else response.json()

    def order_shipments(self, order_no: float) -> list[dict]:
        """Every Shipment (one per carton) of one Infoplus order, e.g. 1234.001 for a backorder child."""
        return self.search("shipment", f"orderNo eq {order_no}")

    def search_items(self, lob_id: int, *, modified_after: str | None = None,
                     read_page: Callable[[Callable[[], list[dict]]], list[dict]] = _call) -> Iterator[list[dict]]:
        """Every Item of a LOB (optionally only those modified after an ISO time), one page of up to 250 at a
        time; paging stops at the first short page (the API returns no total count). `read_page` wraps each
        page's call (e.g. to wait out a 429 and ask for the same page again, not start over)."""
        filter_ = f"lobId eq {lob_id}"
        if modified_after:
            filter_ += f" and modifyDate gt {quote_filter_value(modified_after)}"
        page = 1
        while True:
            rows = read_page(lambda: self.search("item", filter_, page=page))
            if rows:
                yield rows
            if len(rows) < SEARCH_PAGE_LIMIT:
                return
            page += 1

    def get_shopping_cart_connection(self, connection_id: int) -> dict | None:
        url = f"{self._base}/shoppingCartConnection/{connection_id}"
        response = self._send("GET", url, timeout=self._timeout)
        return None if response.status_code == 404 else response.json()

    def create_order(self, order: dict[str, Any]) -> dict:
        url = f"{self._base}/order"
        response = self._send("POST", url, json=order, timeout=self._timeout)
        if response.status_code == 404:
            raise Permanent(f"POST {url} answered 404", status=404, body=response.text[:500], url=url)
        return response.json()

    def get_record(self, resource: str, record_id: int | str) -> dict | None:
        """One record by id (`lineOfBusiness`, `warehouse`, `orderSource`, `carrier` …); None when Infoplus has none."""
        response = self._send("GET", f"{self._base}/{resource}/{record_id}", timeout=self._timeout)
        return None if response.status_code == 404 else response.json()
