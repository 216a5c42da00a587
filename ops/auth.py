"""Who may see and do anything: the holder of OPS_TOKEN, and only through requests that are what they seem.

- A browser logs in with the token at /login and gets a session cookie (HttpOnly, SameSite=Lax, signed with a
  key derived from the token; Secure whenever the console is reached over https). A script sends
  `Authorization: Bearer <OPS_TOKEN>` on each request instead. The token is at least MIN_TOKEN_CHARS long.
- A session lives on the server too (SessionBook): logout ends it there, so a copied cookie stops working, and it
  ends by itself after SESSION_SECONDS.
- Failed logins (form or Bearer) are throttled per client address (LoginThrottle): after FAILED_LOGIN_LIMIT in
  FAILED_LOGIN_WINDOW_SECONDS, every attempt from it is answered 429 until the window has passed.
- Plain http is served to a loopback address only; anything else must come over https — directly, or through a
  proxy whose X-Forwarded-Proto is trusted (OPS_TRUST_FORWARDED_PROTO=true). /healthz stays open to probes.
- `next` after login is a local path only: no scheme, no host, no control character or backslash (browsers read
  `/\\t/evil.com` as `//evil.com`).
- Every other path (but /healthz) answers 401 without one of those, or sends a browser to the login form.
- POSTs: a browser's must come from this origin (Origin, else Referer, must match the host) and carry the
  session's CSRF token; a Bearer request carries no ambient credential a foreign page could borrow, so the token
  in its header is the proof.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

OPEN_ENDPOINTS = {"ops.login", "ops.healthz", "static"}
MIN_TOKEN_CHARS = 24
SESSION_SECONDS = 12 * 3600
FAILED_LOGIN_LIMIT = 5
FAILED_LOGIN_WINDOW_SECONDS = 300.0


class SessionBook:
    """Live sessions by id, on the server (the ops console runs one worker, config/ops_gunicorn.py): a restart
    logs everyone out, which is the safe direction."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends: dict[str, float] = {}
        self._lock = threading.Lock()

    def begin(self) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._ends = {sid: end for sid, end in self._ends.items() if end > now}  # forget the expired
            self._ends[session_id] = now + SESSION_SECONDS
        return session_id

    def alive(self, session_id: str | None) -> bool:
        with self._lock:
            return bool(session_id) and self._ends.get(session_id, 0.0) > self._clock()

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._ends.pop(session_id or "", None)


class LoginThrottle:
    """Failed attempts per client address in a sliding window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """Seconds this address must wait before its next attempt counts; 0 when it may try now."""
        with self._lock:
            recent = self._recent(address)
            if len(recent) < FAILED_LOGIN_LIMIT:
                return 0.0
            return recent[0] + FAILED_LOGIN_WINDOW_SECONDS - self._clock()

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())

    def _recent(self, address: str) -> deque[float]:
        recent = self._failures.setdefault(address, deque())
        while recent and recent[0] <= self._clock() - FAILED_LOGIN_WINDOW_SECONDS:
            recent.popleft()
        return recent


@dataclass
class AuthState:
    trust_forwarded_proto: bool
    sessions: SessionBook = field(default_factory=SessionBook)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


class _SessionCookies(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:  # per request: Secure whenever reached over https
        return is_https()


def init_app(app: Flask) -> None:
    token = app.config["OPS_TOKEN"]
    if len(token.strip()) < MIN_TOKEN_CHARS:
        raise SystemExit(f"OPS_TOKEN is shorter than {MIN_TOKEN_CHARS} characters: the ops console refuses to start "
                         f"with a guessable secret (e.g. `openssl rand -hex 24`)")
    trust = app.config.get("OPS_TRUST_FORWARDED_PROTO")
    if trust is None:
        trust = os.environ.get("OPS_TRUST_FORWARDED_PROTO", "").strip().lower() in ("1", "true", "yes")
    app.extensions["cartbridge_ops_auth"] = AuthState(trust_forwarded_proto=bool(trust))
    app.session_interface = _SessionCookies()
    app.before_request(_guard)
    app.jinja_env.globals["csrf_token"] = csrf_token


def _state() -> AuthState:
    return current_app.extensions["cartbridge_ops_auth"]


def token_matches(given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), current_app.config["OPS_TOKEN"].encode())


def bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def is_https() -> bool:
    if request.scheme == "https":
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return _state().trust_forwarded_proto and forwarded == "https"


def client_address() -> str:
    """The address failed logins are counted for: the trusted proxy's last X-Forwarded-For hop, else the peer."""
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    return hops[-1] if hops and _state().trust_forwarded_proto else (request.remote_addr or "-")


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def same_origin() -> bool:
    """The request was sent by a page of this console (Origin, or Referer when a browser omits Origin)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return False
    parts, here = urlsplit(source), urlsplit(request.host_url)
    return (parts.scheme, parts.netloc) == (here.scheme, here.netloc)


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this console, else None."""
    if not target or "\\" in target or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _guard():
    if request.endpoint != "ops.healthz" and not is_https() and not _is_loopback(request.remote_addr):
        abort(403, "the ops console is served over https (plain http to a loopback address only); behind a TLS "
                   "proxy, set OPS_TRUST_FORWARDED_PROTO=true")
    if request.endpoint in OPEN_ENDPOINTS and request.method == "GET":
        return None
    if bearer() is not None:
        return _check_bearer()
    if request.method == "POST" and not same_origin():
        abort(403, "cross-origin request refused")
    if request.endpoint == "ops.login":
        return None  # the form itself checks the token
    if not (session.get("signed_in") and _state().sessions.alive(session.get("sid"))):
        session.clear()
        if request.method == "GET":
            return redirect(url_for("ops.login", next=request.full_path if request.query_string else request.path))
        abort(401)
    if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
        abort(403, "missing or stale form token: reload the page and try again")
    return None


def _check_bearer():
    throttled = _throttled()
    if throttled is not None:
        return throttled
    if not token_matches(bearer()):
        _state().throttle.failed(client_address())
        abort(401)
    return None


def _throttled():
    """A 429 while this address has failed too often, else None."""
    wait = _state().throttle.wait(client_address())
    if wait <= 0:
        return None
    return "Too many failed logins from this address: wait and try again.", 429, {"Retry-After": str(int(wait) + 1)}


def login_view():
    error = None
    if request.method == "POST":
        throttled = _throttled()
        if throttled is not None:
            return throttled
        if token_matches(request.form.get("token")):
            session.clear()
            session["sid"] = _state().sessions.begin()
            session["signed_in"] = True
            csrf_token()
            return redirect(safe_next(request.args.get("next")) or url_for("ops.index"))
        _state().throttle.failed(client_address())
        error = "That is not the token."
    return render_template("login.html", error=error), (401 if error else 200)


def end_session() -> None:
    """Logout: the session ends on the server too, so a copy of its cookie is worth nothing."""
    _state().sessions.end(session.get("sid"))
    session.clear()
