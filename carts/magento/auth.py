"""How cartbridge authenticates to Magento (docs/magento.md §1): an integration's four credentials sign each
request with OAuth 1.0a (RFC 5849, HMAC-SHA256), or its access token alone is sent as a Bearer token — which
Magento 2.4.4+ accepts only when the store enables "Allow OAuth Access Tokens to be used as standalone Bearer
tokens". The connection chooses: OAuth when it has a `consumer_key`, Bearer otherwise.

Signing (RFC 5849 §3.4) is done on the request as requests prepared it, so what is signed is exactly what is sent:
the base string is the method, the base string URI (scheme and host lower-cased, default port dropped, no query)
and the normalized parameters — the query's, a form body's, and the oauth_* protocol parameters — each
percent-encoded (§3.6), sorted by name then value. JSON bodies are not signed (§3.4.1.3.1). No secret is logged.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Callable
from urllib.parse import parse_qsl, quote, urlsplit

import requests
from requests.auth import AuthBase

from schemas.connection import Connection

HASHES = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def encode(text: str) -> str:
    """RFC 5849 §3.6 percent-encoding: only ALPHA, DIGIT, "-", ".", "_", "~" stay as they are."""
    return quote(text, safe="-._~")


def base_string(method: str, url: str, oauth_params: dict[str, str], form_body: str = "") -> str:
    """RFC 5849 §3.4.1.1 signature base string for a request to `url` (its query included in `url`)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port and parts.port != _DEFAULT_PORTS.get(scheme) else ""
    uri = f"{scheme}://{host}{port}{parts.path or '/'}"
    params = parse_qsl(parts.query, keep_blank_values=True) + parse_qsl(form_body, keep_blank_values=True)
    params.extend(oauth_params.items())
    normalized = "&".join(f"{name}={value}" for name, value in sorted((encode(n), encode(v)) for n, v in params))
    return "&".join((method.upper(), encode(uri), encode(normalized)))


def sign(base: str, consumer_secret: str, token_secret: str, method: str = "HMAC-SHA256") -> str:
    key = f"{encode(consumer_secret)}&{encode(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), HASHES[method]).digest()).decode()


class OAuth1(AuthBase):
    """Signs each request with the integration's consumer key/secret and access token/secret."""

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str, *,
                 method: str = "HMAC-SHA256", clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] = lambda: secrets.token_hex(16)) -> None:
        self._consumer_key, self._consumer_secret = consumer_key, consumer_secret
        self._token, self._token_secret = token, token_secret
        self._method, self._clock, self._nonce = method, clock, nonce

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        oauth = {"oauth_consumer_key": self._consumer_key, "oauth_nonce": self._nonce(),
                 "oauth_signature_method": self._method, "oauth_timestamp": str(int(self._clock())),
                 "oauth_token": self._token, "oauth_version": "1.0"}
        content_type = request.headers.get("Content-Type") or ""
        body = request.body if "x-www-form-urlencoded" in content_type else ""
        form = body.decode() if isinstance(body, bytes) else (body or "")
        base = base_string(request.method or "GET", request.url or "", oauth, form)
        oauth["oauth_signature"] = sign(base, self._consumer_secret, self._token_secret, self._method)
        request.headers["Authorization"] = "OAuth " + ", ".join(
            f'{encode(name)}="{encode(value)}"' for name, value in oauth.items())
        return request

    def __repr__(self) -> str:  # never print credentials
        return f"OAuth1(method={self._method})"


class BearerToken(AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerToken(***)"


def auth_for(connection: Connection) -> AuthBase:
    """OAuth 1.0a when the connection has a consumer key (schemas.connection checks the other three are there)."""
    if connection.consumer_key:
        return OAuth1(connection.consumer_key, connection.consumer_secret or "", connection.access_token or "",
                      connection.access_token_secret or "")
    return BearerToken(connection.access_token or "")
