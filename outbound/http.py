"""HTTP calls to outside APIs with explicit timeouts; responses are sorted into Retryable and Permanent.

Every answer is bounded, because a merchant's server may be broken or hostile and shares a partition with others:
a Retry-After waits at most MAX_RETRY_AFTER_SECONDS; a whole call (connect, headers, body) ends by its deadline,
however slowly the bytes trickle; a body is read up to MAX_RESPONSE_BYTES; a redirect is never followed (our
credentials would go along to wherever it points); and a failure's message never carries a header value.
"""
from __future__ import annotations

import contextlib
import email.utils
import heapq
import itertools
import json
import math
import socket
import threading
import time
from typing import Any, Callable, Iterator

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from metrics.outbound import observe_call
from outbound.errors import Permanent, Retryable

MAX_BODY_IN_ERROR = 2000  # keep dead-letter records readable
MAX_BODY_IN_REASON = 200  # the gist of the answer in the one-line reason (logs, `cartbridge-replay --reason`)
MAX_RETRY_AFTER_SECONDS = 300.0  # a server asking for longer must not pause a shared partition for good
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_READ_CHUNK = 64 * 1024


class _Overdue(Exception):
    """The call's overall deadline passed while its body was still arriving."""


class _TooLarge(Exception):
    """The body is longer than MAX_RESPONSE_BYTES."""


# -- the deadline's watchdog: a server trickling its status line or headers is cut off too -----------------------
_this_call = threading.local()  # .connections: the connections the call in this thread has sent a request on


class _Watched:
    def request(self, *args: Any, **kwargs: Any) -> None:
        watched = getattr(_this_call, "connections", None)
        if watched is not None:
            watched.append(self)
        super().request(*args, **kwargs)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, whose connections let a call's watchdog hang up on them."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Watchdog:
    """One thread for the whole process that hangs up on calls past their deadline (no thread per call)."""

    def __init__(self) -> None:
        self._due = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._numbers = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, ends_at: float, hang_up: Callable[[], None]) -> int:
        with self._due:
            number = next(self._numbers)
            heapq.heappush(self._heap, (ends_at, number, hang_up))
            if self._thread is None or not self._thread.is_alive():  # also in a child forked after it started
                self._thread = threading.Thread(target=self._run, name="outbound-deadlines", daemon=True)
                self._thread.start()
            self._due.notify()
            return number

    def cancel(self, number: int) -> None:
        with self._due:
            self._cancelled.add(number)

    def _run(self) -> None:
        while True:
            with self._due:
                hang_up = self._next_due()
            hang_up()

    def _next_due(self) -> Callable[[], None]:
        while True:
            while self._heap and self._heap[0][1] in self._cancelled:
                self._cancelled.discard(heapq.heappop(self._heap)[1])
            if not self._heap:
                self._due.wait()
                continue
            wait = self._heap[0][0] - time.monotonic()
            if wait <= 0:
                return heapq.heappop(self._heap)[2]
            self._due.wait(wait)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def _watchdog(ends_at: float) -> Iterator[threading.Event]:
    """Hangs up the call's connections at `ends_at` (the blocked read then fails); the event says it did."""
    _this_call.connections = watched = []
    fired, over, lock = threading.Event(), threading.Event(), threading.Lock()

    def hang_up() -> None:
        with lock:
            if over.is_set():  # the call ended as its deadline came: its connection may serve another call now
                return
            fired.set()
            for connection in list(watched):
                with contextlib.suppress(OSError, AttributeError):
                    connection.sock.shutdown(socket.SHUT_RDWR)

    number = _WATCHDOG.watch(ends_at, hang_up)
    try:
        yield fired
    finally:
        with lock:
            over.set()
        _WATCHDOG.cancel(number)
        _this_call.connections = None


def new_session(user_agent: str = "cartbridge/0.1") -> requests.Session:
    """One pooled session per client; requests' own retries stay off — the consumer engine decides."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    for scheme in ("https://", "http://"):
        session.mount(scheme, _DeadlineAdapter())
    return session


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), at most MAX_RETRY_AFTER_SECONDS;
    None when it says nothing usable."""
    if not value:
        return None
    try:
        return clamp_retry_after(float(value))
    except ValueError:
        pass
    try:
        return clamp_retry_after(email.utils.parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError, OverflowError):
        return None


def clamp_retry_after(seconds: float | None) -> float | None:
    """0 .. MAX_RETRY_AFTER_SECONDS; NaN reads as unsaid."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))


def response_body(response: requests.Response) -> Any:
    """The answer as kept in an error: its JSON when short, else the start of its text."""
    text = response.text
    if len(text) > MAX_BODY_IN_ERROR:
        return text[:MAX_BODY_IN_ERROR] + "…"
    try:
        return response.json()
    except ValueError:
        return text


def send(session: requests.Session, method: str, url: str, *, timeout: tuple[float, float],
         retry_after: Callable[[requests.Response], float | None] | None = None, deadline: float | None = None,
         **kwargs: Any) -> requests.Response:
    """Make one call; return the response if 2xx (or 404), else raise Retryable or Permanent.

    `retry_after` lets a platform read its own throttle headers (e.g. BigCommerce's X-Rate-Limit-*).
    404 is returned, not raised: for a lookup it is an answer ("not there"), and callers decide.
    `deadline`: seconds the whole call may take; by default connect + read timeout.
    """
    started = time.perf_counter()
    ends_at = time.monotonic() + (sum(timeout) if deadline is None else deadline)
    try:
        with _watchdog(ends_at) as overdue:
            response = _request_in_time(session, method, url, timeout, ends_at, kwargs, overdue)
    except (_Overdue, _TooLarge, requests.RequestException) as error:
        observe_call(method, url, _failure_label(error), time.perf_counter() - started)
        raise _outbound_error(method, url, error) from _safe_cause(error)
    observe_call(method, url, str(response.status_code), time.perf_counter() - started)
    if response.status_code < 300 or response.status_code == 404:
        return response
    raise _classify(method, url, response, retry_after)


def _request_in_time(session: requests.Session, method: str, url: str, timeout: tuple[float, float],
                     ends_at: float, kwargs: dict[str, Any], overdue: threading.Event) -> requests.Response:
    """The call, or _Overdue when the watchdog hung up on it (whatever error or short read that caused)."""
    try:
        response = _request(session, method, url, timeout, ends_at, kwargs)
    except (requests.RequestException, _TooLarge):
        if overdue.is_set():
            raise _Overdue() from None
        raise
    if overdue.is_set():
        response.close()
        raise _Overdue()
    return response


def _request(session: requests.Session, method: str, url: str, timeout: tuple[float, float], ends_at: float,
             kwargs: dict[str, Any]) -> requests.Response:
    connect, read = timeout
    response = session.request(method, url, timeout=(connect, min(read, _left(ends_at))), stream=True,
                               allow_redirects=False, hooks={"response": _hold_location}, **kwargs)
    try:
        response._content = _read_body(response, ends_at)  # what .json() / .text read from here on
    except _TooLarge:
        response.close()  # not read to its end: the connection cannot be reused
        if response.status_code < 300:
            raise
        response._content = b""  # an error too long to keep: its status says enough
    except BaseException:
        response.close()
        raise
    else:
        response.raw.release_conn()  # read whole: back to the pool
    return response


def _read_body(response: requests.Response, ends_at: float) -> bytes:
    """The body, read in whatever pieces arrive, checking the deadline and the size after each."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > ends_at:
            raise _Overdue()
        chunk = _read_some(response)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge()
        chunks.append(chunk)


def _hold_location(response: requests.Response, **_: Any) -> requests.Response:
    """Take a 3xx's Location out of sight before requests looks for a next hop: even with allow_redirects=False it
    reads the whole redirect body (unbounded) to prepare one. _classify names the Location in the error."""
    location = response.headers.pop("Location", None)
    if location is not None:
        response.held_location = location
    return response


def _read_some(response: requests.Response) -> bytes:
    """What has arrived (up to _READ_CHUNK), decoded; urllib3's errors as requests' (as requests itself does)."""
    try:
        return response.raw.read1(_READ_CHUNK, decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ReadTimeout(str(error)) from None
    except urllib3.exceptions.DecodeError as error:
        raise requests.exceptions.ContentDecodingError(str(error)) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise requests.exceptions.ChunkedEncodingError(f"answer cut short: {error.__class__.__name__}") from None


def _left(ends_at: float) -> float:
    return max(0.001, ends_at - time.monotonic())


def _failure_label(error: Exception) -> str:
    if isinstance(error, (_Overdue, requests.Timeout)):
        return "timeout"
    return "connection_error" if isinstance(error, requests.ConnectionError) else "refused"


def _outbound_error(method: str, url: str, error: Exception) -> Exception:
    """Named by class only: a requests message may quote a header (InvalidHeader carries the token's value)."""
    if isinstance(error, _Overdue):
        return Retryable(f"{method} {url}: deadline passed while the answer was still arriving", url=url)
    if isinstance(error, _TooLarge):
        return Permanent(f"{method} {url}: answer longer than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB", url=url)
    if isinstance(error, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                          requests.exceptions.ContentDecodingError)):
        return Retryable(f"{method} {url}: {error.__class__.__name__}", url=url)
    return Permanent(f"{method} {url}: {error.__class__.__name__} (the request could not be made)", url=url)


def _safe_cause(error: Exception) -> Exception | None:
    """Chain only causes whose text cannot hold a header value (a traceback in a log prints the cause)."""
    return error if isinstance(error, (requests.Timeout, requests.ConnectionError)) else None


def _classify(method: str, url: str, response: requests.Response,
              retry_after: Callable[[requests.Response], float | None] | None) -> Exception:
    status = response.status_code
    if 300 <= status < 400:
        location = " ".join(getattr(response, "held_location", "").split())[:MAX_BODY_IN_REASON]
        return Permanent(f"{method} {url} answered {status}, a redirect to {location or '(no Location)'}: not "
                         f"followed (check store_url)", status=status, url=url)
    body = response_body(response)
    reason = f"{method} {url} answered {status}{_gist(body)}"
    if status == 429 or status >= 500:
        wait = clamp_retry_after((retry_after or _standard_retry_after)(response))
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
