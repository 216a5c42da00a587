"""Webhook signature schemes, shared by the cart platforms and the Infoplus push endpoints.

Every comparison is constant-time; nothing here logs or returns a secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Mapping


MIN_KEY_BYTES = 16  # a webhook key shorter than this is guessable
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The delivery is not authentic (missing, malformed, wrong or stale signature)."""


def hmac_sha256_base64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def verify_base64_hmac(body: bytes, signature: str | None, secret: str) -> None:
    """Shopify (`X-Shopify-Hmac-Sha256`) and WooCommerce (`X-WC-Webhook-Signature`): base64 HMAC-SHA256 of the body."""
    if not signature:
        raise SignatureError("missing signature header")
    expected = hmac_sha256_base64(secret.encode(), body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("signature does not match the body")


class StandardWebhooks:
    """Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> …`.

    The signed content is `{id}.{timestamp}.{body}`; timestamps outside `tolerance_seconds` are rejected as replays.
    """

    def __init__(self, key: bytes, tolerance_seconds: int = 300) -> None:
        self._key = key
        self._tolerance = tolerance_seconds

    @classmethod
    def from_secret(cls, secret: str, **kwargs: int) -> "StandardWebhooks":
        """A spec secret: `whsec_` + base64 key, of at least MIN_KEY_BYTES (`whsec_` alone is an empty key: anyone
        could sign)."""
        encoded = secret.removeprefix("whsec_")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ValueError("a Standard Webhooks secret is 'whsec_' followed by base64") from None
        if len(key) < MIN_KEY_BYTES or not key.strip():
            raise ValueError(f"the key is {len(key)} bytes{' of whitespace' if key and not key.strip() else ''}: "
                             f"at least {MIN_KEY_BYTES} bytes of random data are needed")
        return cls(key, **kwargs)

    def sign(self, message_id: str, timestamp: int, body: bytes) -> str:
        return "v1," + hmac_sha256_base64(self._key, f"{message_id}.{timestamp}.".encode() + body)

    def verify(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
        """Check the headers against the body; returns the message id (a natural dedupe key)."""
        message_id, timestamp, signatures = (headers.get(name) for name in
                                             ("webhook-id", "webhook-timestamp", "webhook-signature"))
        if not (message_id and timestamp and signatures):
            raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
        self._check_timestamp(timestamp, time.time() if now is None else now)
        expected = self.sign(message_id, int(timestamp), body).encode()
        if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures.split()):
            raise SignatureError("no webhook-signature matches the body")
        return message_id

    def _check_timestamp(self, timestamp: str, now: float) -> None:
        # Digits only, and few: int() would take 400 of them, and comparing that with a float overflows (a 500).
        if not _UNIX_SECONDS.fullmatch(timestamp):
            raise SignatureError("webhook-timestamp is not a unix time")
        if abs(now - int(timestamp)) > self._tolerance:
            raise SignatureError("webhook-timestamp is outside the replay window")
