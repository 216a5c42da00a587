"""A real HTTP server on 127.0.0.1 that answers the way a broken or hostile store might.

Each path is one behaviour (`answer(path, ...)`); every request it receives is recorded with its headers, so a test
can tell whether a credential went somewhere it must not.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Behaviour = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HostileServer:
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _any(self) -> None:
                server.received.append(Received(self.command, self.path, dict(self.headers.items())))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                behaviour = server.behaviours.get(self.path.split("?")[0])
                try:
                    (behaviour or not_found)(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            do_GET = do_POST = do_PUT = _any

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}{path}"

    def answer(self, path: str, behaviour: Behaviour) -> str:
        self.behaviours[path] = behaviour
        return self.url(path)

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def not_found(handler: BaseHTTPRequestHandler) -> None:
    plain(404, b"no")(handler)


def plain(status: int, body: bytes, headers: dict[str, str] | None = None,
          content_type: str = "application/json") -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    return behave


def trickle(total_bytes: int, every_seconds: float) -> Behaviour:
    """A 200 whose body arrives one byte at a time: each read is quick, the whole never ends in time."""
    def behave(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(total_bytes))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(total_bytes):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(every_seconds)
    return behave


def huge(status: int, megabytes: int) -> Behaviour:
    """`megabytes` MB of a JSON string, sent as fast as the client reads."""
    def behave(handler: BaseHTTPRequestHandler) -> None:
        size = megabytes * 1_000_000
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        handler.wfile.write(b'"')
        block = b"x" * 65536
        left = size - 2
        while left > 0:
            handler.wfile.write(block[:min(left, len(block))])
            left -= len(block)
        handler.wfile.write(b'"')
    return behave


def redirect(location: str, status: int = 302) -> Behaviour:
    return plain(status, b"", {"Location": location})


def trickle_headers(every_seconds: float, header_bytes: int = 60) -> Behaviour:
    """A status line, then header bytes one at a time: the answer never gets as far as a body."""
    def behave(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        handler.wfile.flush()
        for _ in range(header_bytes):
            handler.wfile.write(b"a")
            handler.wfile.flush()
            time.sleep(every_seconds)
        handler.wfile.write(b"\r\nContent-Length: 2\r\n\r\n{}")
    return behave


def cut_short(promised: int, sent: int) -> Behaviour:
    """A 200 promising `promised` bytes that hangs up after `sent`."""
    def behave(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(promised))
        handler.end_headers()
        handler.wfile.write(b"[" + b" " * (sent - 1))
        handler.wfile.flush()
        handler.close_connection = True
    return behave
