"""Who may see and do anything: the holder of OPS_TOKEN, and only through requests that are what they seem.

- A browser logs in with the token at /login and gets a session cookie (HttpOnly, SameSite=Lax, signed with a
  key derived from the token). A script sends `Authorization: Bearer <OPS_TOKEN>` on each request instead.
- Every other path (but /healthz) answers 401 without one of those, or sends a browser to the login form.
- POSTs: a browser's must come from this origin (Origin, else Referer, must match the host) and carry the
  session's CSRF token; a Bearer request carries no ambient credential a foreign page could borrow, so the token
  in its header is the proof.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, redirect, render_template, request, session, url_for

OPEN_ENDPOINTS = {"ops.login", "ops.healthz", "static"}


def init_app(app: Flask) -> None:
    app.before_request(_guard)
    app.jinja_env.globals["csrf_token"] = csrf_token


def token_matches(given: str | None) -> bool:
    from flask import current_app
    return bool(given) and hmac.compare_digest(given.encode(), current_app.config["OPS_TOKEN"].encode())


def bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def same_origin() -> bool:
    """The request was sent by a page of this console (Origin, or Referer when a browser omits Origin)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return False
    parts, here = urlsplit(source), urlsplit(request.host_url)
    return (parts.scheme, parts.netloc) == (here.scheme, here.netloc)


def _guard():
    if request.endpoint in OPEN_ENDPOINTS and request.method == "GET":
        return None
    if bearer() is not None:
        if not token_matches(bearer()):
            abort(401)
        return None
    if request.method == "POST" and not same_origin():
        abort(403, "cross-origin request refused")
    if request.endpoint == "ops.login":
        return None  # the form itself checks the token
    if not session.get("signed_in"):
        if request.method == "GET":
            return redirect(url_for("ops.login", next=request.full_path if request.query_string else request.path))
        abort(401)
    if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
        abort(403, "missing or stale form token: reload the page and try again")
    return None


def login_view():
    error = None
    if request.method == "POST":
        if token_matches(request.form.get("token")):
            session.clear()
            session["signed_in"] = True
            csrf_token()
            target = request.args.get("next") or ""
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("ops.index"))
        error = "That is not the token."
    return render_template("login.html", error=error), (401 if error else 200)
