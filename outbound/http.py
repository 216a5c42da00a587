"""HTTP calls to outside APIs with explicit timeouts; responses are sorted into Retryable and Permanent."""
from __future__ import annotations

import email.utils
import json
import time
from typing import Any, Callable

import requests

from metrics.outbound import observe_call
from outbound.errors import Permanent, Retryable

MAX_BODY_IN_ERROR = 2000  # keep dead-letter records readable
MAX_BODY_IN_REASON = 200  # the gist of the answer in the one-line reason (logs, `cartbridge-replay --reason`)


def new_session(user_agent: str = "cartbridge/0.1") -> requests.Session:
    """One pooled session per client; requests' own retries stay off — the consumer engine decides."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    return session


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


def response_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:MAX_BODY_IN_ERROR]


def send(session: requests.Session, method: str, url: str, *, timeout: tuple[float, float],
         retry_after: Callable[[requests.Response], float | None] | None = None, **kwargs: Any) -> requests.Response:
    """Make one call; return the response if 2xx/3xx, else raise Retryable or Permanent.

    `retry_after` lets a platform read its own throttle headers (e.g. BigCommerce's X-Rate-Limit-*).
    404 is returned, not raised: for a lookup it is an answer ("not there"), and callers decide.
    """
    started = time.perf_counter()
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except (requests.Timeout, requests.ConnectionError) as error:
        failure = "timeout" if isinstance(error, requests.Timeout) else "connection_error"
        observe_call(method, url, failure, time.perf_counter() - started)
        raise Retryable(f"{method} {url}: {error.__class__.__name__}", url=url) from error
    observe_call(method, url, str(response.status_code), time.perf_counter() - started)
    if response.status_code < 400 or response.status_code == 404:
        return response
    raise _classify(method, url, response, retry_after)


def _classify(method: str, url: str, response: requests.Response,
              retry_after: Callable[[requests.Response], float | None] | None) -> Exception:
    status, body = response.status_code, response_body(response)
    reason = f"{method} {url} answered {status}{_gist(body)}"
    if status == 429 or status >= 500:
        wait = (retry_after or _standard_retry_after)(response)
        return Retryable(reason, retry_after=wait, status=status, body=body, url=url)
    return Permanent(reason, status=status, body=body, url=url)


def _gist(body: Any) -> str:
    """`: <the answer's start, on one line>` — e.g. Infoplus's "Item not found: SKU-9" — or nothing."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), default=str)
    text = " ".join(text.split())
    if not text:
        return ""
    return ": " + (text if len(text) <= MAX_BODY_IN_REASON else text[:MAX_BODY_IN_REASON] + "…")


def _standard_retry_after(response: requests.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"))
