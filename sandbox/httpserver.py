"""A small base for local HTTP stand-ins of outside APIs, on Werkzeug.

A `StandIn` is a real HTTP server on 127.0.0.1 (werkzeug.serving's threaded server, one daemon thread
per request) with a routing Map, a request log and fault injection. Subclasses declare routes with the
`@route` decorator (a regex for the whole path) and answer `(status, headers, json_body)`; they may also
raise `HttpError`.

The stand-ins import nothing from the product: they describe the outside world, not our code.
"""
from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Self
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers  # names looked up ignoring case, as HTTP does
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

Response = tuple[int, dict[str, str], Any]
Handler = Callable[["Request"], Response]

#: Paths under this prefix belong to the sandbox itself (debug views): no auth, no faults.
SANDBOX_PREFIX = "/_sandbox/"


@dataclass
class Request:
    """One parsed request as a handler sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes
    json: Any = None
    json_error: bool = False  # a body was sent but it is not JSON
    params: dict[str, str] = field(default_factory=dict)  # named groups of the matched route
    raw_query: str = ""  # the query string as sent (OAuth 1.0a signatures cover its exact parameters)


@dataclass
class Call:
    """One logged request (what the client sent) and the status it was answered with."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    json: Any
    body: bytes
    status: int = 0


class HttpError(Exception):
    """Raised by a handler to answer an error right away (keeps handlers short)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.response: Response = (status, dict(headers or {}), body)


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    public: bool  # public routes skip authentication and faults


@dataclass
class _Fault:
    remaining: int
    status: int
    headers: dict[str, str]
    body: Any
    pattern: re.Pattern[str] | None


def route(method: str, pattern: str, *, public: bool = False) -> Callable[[Handler], Handler]:
    """Mark a StandIn method as the handler of `method` + `pattern` (a regex for the whole path).

    A pattern starting with "/" is absolute; any other is relative to the class's `path_prefix`.
    """

    def mark(fn: Handler) -> Handler:
        fn.__dict__.setdefault("_routes", []).append((method.upper(), pattern, public))
        return fn

    return mark


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return status, dict(headers or {}), body


def ok(body: Any) -> Response:
    return 200, {}, body


def _search(pattern: re.Pattern[str] | None, path: str) -> bool:
    return pattern is None or pattern.search(path) is not None


def _compile(regex: str | None) -> re.Pattern[str] | None:
    return None if regex is None else re.compile(regex)


class StandIn:
    """Base of every stand-in: server lifecycle, routing, request log and fault injection.

    Usable as a context manager (`with InfoplusStandIn() as ip: ...`). The port is bound in the
    constructor, so `base_url` is known before `start()`.
    """

    path_prefix = ""
    name = "standin"

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.log = logging.getLogger(f"sandbox.{self.name}")
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._faults: list[_Fault] = []
        self._delays: dict[str | None, float] = {}
        # Requests being answered right now, the most at once, and how many began while another was being
        # answered: e.g. "two pollers never poll together".
        self.in_flight = 0
        self.in_flight_peak = 0
        self.overlapping = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._routes = list(self._declared_routes())
        self._urls = _route_map(self._routes).bind("127.0.0.1")
        self._server = _server(host, port, self)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
            self.overlapping += self.in_flight > 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def url(self, path: str = "") -> str:
        """Absolute URL of `path` (relative paths are taken under `path_prefix`)."""
        return self.base_url + (path if path.startswith("/") else self.path_prefix + path)

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"sandbox-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in an injected delay
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- routes ----------------------------------------------------------------------------
    def _declared_routes(self) -> Iterator[_Route]:
        # Walk the MRO base-first, in definition order, so earlier routes win ties.
        for klass in reversed(type(self).__mro__):
            for attr_name, attr in vars(klass).items():
                for method, pattern, public in getattr(attr, "_routes", ()):
                    yield self._make_route(method, pattern, getattr(self, attr_name), public)

    def _make_route(self, method: str, pattern: str, handler: Handler, public: bool) -> _Route:
        full = pattern if pattern.startswith("/") else re.escape(self.path_prefix) + pattern
        if not full.startswith("/"):  # the routing Map matches from the path's leading "/"
            raise ValueError(f"route {method} {full!r} of {type(self).__name__}: a whole path starts with '/'")
        return _Route(method, re.compile(full), handler, public)

    def add_route(self, method: str, pattern: str, handler: Handler, public: bool = False) -> None:
        """Add a route at run time (tests may bolt on an endpoint without subclassing)."""
        with self._lock:
            self._routes.append(self._make_route(method.upper(), pattern, handler, public))
            self._urls = _route_map(self._routes).bind("127.0.0.1")

    def _match(self, req: Request) -> _Route | None:
        """The first declared route whose regex matches the whole path, for this method; else None (404, also
        when only another method matches, as before Werkzeug)."""
        with self._lock:
            routes, urls = self._routes, self._urls
        try:
            index, _ = urls.match(req.path, method=req.method)
        except HTTPException:  # NotFound, MethodNotAllowed
            return None
        found = routes[index]
        matched = found.pattern.fullmatch(req.path)
        if matched is None:  # Werkzeug folds leading slashes ("//x" is "/x"); the regexes do not
            return None
        req.params = {k: v for k, v in matched.groupdict().items() if v is not None}
        return found

    # ---- hooks for subclasses --------------------------------------------------------------
    def authenticate(self, req: Request) -> Response | None:
        """Return an error response to refuse the request; None lets it through."""
        return None

    def not_found(self, req: Request) -> Response:
        return json_response(404, {"errors": [f"No route for {req.method} {req.path}"]})

    def fault_body(self, status: int) -> Any:
        """Body of an injected fault when the test gave none."""
        return {"errors": [f"Injected fault: HTTP {status}"]}

    def reset(self) -> None:
        """Forget calls and faults, and let subclasses drop their state (see `reset_state`)."""
        self.reset_faults()
        self.clear_calls()
        self.reset_state()

    def reset_state(self) -> None:
        """Subclasses clear their stored records here."""

    # ---- request log -----------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        """How many requests matched `method` (None = any) and `path_regex` (re.search)."""
        pattern = _compile(path_regex)
        return sum(1 for c in self.calls
                   if (method is None or c.method == method.upper()) and _search(pattern, c.path))

    # ---- fault injection -------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500, retry_after: float | str | None = None,
                  body: Any = None, headers: dict[str, str] | None = None,
                  path_regex: str | None = None) -> None:
        """Answer the next `n` requests matching `path_regex` (re.search; None = all) with `status`.

        `retry_after` becomes a `Retry-After` header (real servers send whole seconds). Faults
        queue up: the oldest matching fault is used first.
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        fault_body = self.fault_body(status) if body is None else body
        with self._lock:
            self._faults.append(_Fault(n, status, extra, fault_body, _compile(path_regex)))

    def delay(self, seconds: float, path_regex: str | None = None) -> None:
        """Slow every answer matching `path_regex` by `seconds`; `delay(0)` removes all delays."""
        with self._lock:
            if seconds > 0:
                self._delays[path_regex] = seconds
            elif path_regex is None:
                self._delays.clear()
            else:
                self._delays.pop(path_regex, None)

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def _take_fault(self, path: str) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if _search(fault.pattern, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.status, dict(fault.headers), fault.body
        return None

    def _delay_for(self, path: str) -> float:
        with self._lock:
            matching = [s for regex, s in self._delays.items() if _search(_compile(regex), path)]
        return max(matching, default=0.0)

    # ---- dispatch --------------------------------------------------------------------------
    def dispatch(self, req: Request) -> Response:
        """Route one request through faults, authentication and its handler."""
        found = self._match(req)
        if found is None or not found.public:
            self._stopping.wait(self._delay_for(req.path))
            injected = self._take_fault(req.path)
            if injected is not None:
                return injected
            refused = self.authenticate(req)
            if refused is not None:
                return refused
        return self._run(found, req)

    def _run(self, found: _Route | None, req: Request) -> Response:
        if found is None:
            return self.not_found(req)
        try:
            return found.handler(req)
        except HttpError as err:
            return err.response
        except Exception as exc:  # a bug in the stand-in must show, not hang the client
            self.log.exception("handler failed for %s %s", req.method, req.path)
            return json_response(500, {"errors": [f"sandbox handler crashed: {exc!r}"]})

    def record(self, req: Request, status: int) -> None:
        with self._lock:
            self._calls.append(Call(req.method, req.path, req.query, req.headers, req.json,
                                    req.body, status))


# ---- the Werkzeug glue -------------------------------------------------------------------------
class _WholePath(BaseConverter):
    """One route's regex (`regex`, set per route), matched against the whole path: the @route API predates
    the Map, and its regexes may span slashes."""

    part_isolating = False


def _route_map(routes: list[_Route]) -> Map:
    """A Map with one rule per route, in declaration order (equal weights keep it), the route's index as
    endpoint. Each rule is "/" and a converter made of the route's regex, which always starts with "/"."""
    converters = {f"route{i}": type(f"_Route{i}", (_WholePath,), {"regex": r.pattern.pattern[1:]})
                  for i, r in enumerate(routes)}
    rules = [Rule(f"/<route{i}:path>", endpoint=i, methods=[r.method]) for i, r in enumerate(routes)]
    return Map(rules, converters=converters, merge_slashes=False)


def _server(host: str, port: int, standin: StandIn) -> BaseWSGIServer:
    """werkzeug.serving's threaded server on a socket bound here, so a busy port raises OSError (Werkzeug's
    own bind prints and exits the process)."""
    listener = socket.create_server((host, port))
    try:
        return make_server(host, listener.getsockname()[1], _wsgi_app(standin), threaded=True,
                           request_handler=_handler_class(standin), fd=listener.fileno())
    finally:
        listener.close()  # the server holds its own duplicate of the socket


def _wsgi_app(standin: StandIn) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        req = _parse_request(WsgiRequest(environ))
        with standin.answering():
            status, headers, body = standin.dispatch(req)
        standin.record(req, status)
        raw = environ.get("RAW_URI", req.path)
        shown = raw if len(raw) < 200 else raw[:197] + "..."
        standin.log.info("%s %s -> %d (%.0f ms)", req.method, shown, status,
                         (time.monotonic() - started) * 1000)
        return _response(status, headers, body)(environ, start_response)

    return app


def _parse_request(request: WsgiRequest) -> Request:
    # The path as sent, not percent-decoded (e.g. a SKU with "/" in it stays one path segment).
    raw_query = request.environ.get("QUERY_STRING", "")
    path = urlsplit(request.environ.get("RAW_URI") or request.path).path
    body = request.get_data(cache=True)
    req = Request(request.method, path, request.args.to_dict(), Headers(request.headers), body,
                  raw_query=raw_query)
    if body:
        try:
            req.json = json.loads(body)
        except ValueError:
            req.json_error = True
    return req


def _response(status: int, headers: dict[str, str], body: Any) -> WsgiResponse:
    data, content_type = _encode(body)
    response = WsgiResponse(data, status=status)
    if content_type:
        response.headers["Content-Type"] = content_type
    else:
        del response.headers["Content-Type"]  # no body, no type (Werkzeug would say text/plain)
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", ""
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json; charset=utf-8"


def _handler_class(standin: StandIn) -> type[WSGIRequestHandler]:
    class _Handler(WSGIRequestHandler):
        # HTTP/1.0: one request per connection, so a stopped stand-in cannot keep answering
        # through a client's pooled keep-alive connection.
        protocol_version = "HTTP/1.0"

        @property
        def server_version(self) -> str:
            return f"sandbox-{standin.name}/1.0"

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # the app logs its own line, with the time taken

        def log(self, type: str, message: str, *args: Any) -> None:
            standin.log.debug(message, *args)

    return _Handler
