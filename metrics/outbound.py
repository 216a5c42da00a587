"""Outbound calls counted by API, endpoint template and status — the URL is reduced to bounded, id-free labels."""
from __future__ import annotations

import re
import threading
from collections import Counter as Tally
from urllib.parse import urlsplit

from metrics.families import (INFOPLUS_BUDGET, INFOPLUS_KEY_REFUSED, INFOPLUS_THROTTLED, OUTBOUND_REQUESTS,
                              OUTBOUND_SECONDS)

# (api, the part of the path before the endpoint): the real APIs' roots, the same on the stand-ins.
_ROOTS = (
    ("infoplus", re.compile(r"/infoplus-wms/api/v[\d.]+/")),
    ("shopify", re.compile(r"/admin/api/[^/]+/")),
    ("woocommerce", re.compile(r"/wp-json/wc/v\d+/")),
    ("bigcommerce", re.compile(r"/stores/[^/]+/")),
    ("magento", re.compile(r"/rest/[^/]+/V1/")),
)
_VERSION = re.compile(r"^v\d+$", re.IGNORECASE)
_MAX_ENDPOINT_SEGMENTS = 4

_calls_lock = threading.Lock()
_calls: Tally[str] = Tally()  # per API, for status records (the poller's "calls spent")


def classify(url: str) -> tuple[str, str]:
    """`(api, endpoint)`: e.g. `.../infoplus-wms/api/v3.0/order/1234.001?x` -> `("infoplus", "order/{id}")`."""
    path = urlsplit(url).path
    for api, root in _ROOTS:
        match = root.search(path)
        if match:
            return api, _template(path[match.end():])
    return "other", "other"


def _template(rest: str) -> str:
    segments = [segment for segment in rest.split("/") if segment][:_MAX_ENDPOINT_SEGMENTS]
    return "/".join("{id}" if _is_id(segment) else segment for segment in segments) or "/"


def _is_id(segment: str) -> bool:
    """Numbers, order numbers (`1234.001`), hashes, GraphQL file names stay; anything with a digit is an id,
    except API versions (`v2`)."""
    return any(char.isdigit() for char in segment) and not _VERSION.match(segment) and segment != "graphql.json"


def observe_call(method: str, url: str, status: str, seconds: float) -> None:
    api, endpoint = classify(url)
    OUTBOUND_REQUESTS.labels(api, endpoint, method, status).inc()
    OUTBOUND_SECONDS.labels(api).observe(seconds)
    with _calls_lock:
        _calls[api] += 1


def calls_made(api: str) -> int:
    """Calls this process made to `api` since it started."""
    with _calls_lock:
        return _calls[api]


# The Infoplus budget (infoplus/keys.py): per API key, labelled by its position (1, 2 …), never its value.
def observe_infoplus_budget(key: str, calls_per_second: float) -> None:
    INFOPLUS_BUDGET.labels(key).set(calls_per_second)


def observe_infoplus_throttled(key: str) -> None:
    INFOPLUS_THROTTLED.labels(key).inc()


def observe_infoplus_key_refused(key: str, refused: bool) -> None:
    INFOPLUS_KEY_REFUSED.labels(key).set(1 if refused else 0)
