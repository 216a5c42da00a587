"""BigCommerce order webhooks: Standard Webhooks signatures, thin payloads -> a reference event.

The payload says only "order N changed" (cart-apis.md §3.1), so the web tier publishes a reference and the
orders consumer fetches the order (carts/bigcommerce/orders.py) — a retryable step, never inside the request.
"""
from __future__ import annotations

from typing import Any, Mapping

from carts.base import ORDER_REFERENCE_EVENT, Delivery, delivery_metadata, require_handled
from schemas.bigcommerce import ORDER_SCOPES, BigCommerceWebhookSchema
from schemas.connection import Connection
from signing import SignatureError, StandardWebhooks

REPLAY_TOLERANCE_SECONDS = 300  # Standard Webhooks' suggested window; older (or future) timestamps are refused

_WEBHOOK_SCHEMA = BigCommerceWebhookSchema()
_DELIVERY_HEADERS = {"webhook_id": "webhook-id", "webhook_timestamp": "webhook-timestamp"}


class BigCommerceDeliveries:
    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # BigCommerce sends no ping

    def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        # The HMAC key is the client secret's own bytes (DESIGN.md): BigCommerce's docs base64-encode the
        # secret before handing it to a Standard Webhooks library, which decodes it straight back.
        verifier = StandardWebhooks(connection.webhook_secret.encode(), REPLAY_TOLERANCE_SECONDS)
        verifier.verify(headers, body)

    def read_delivery(self, headers: Mapping[str, str], payload: Any, connection: Connection) -> Delivery:
        reference = _WEBHOOK_SCHEMA.load(payload)
        _require_own_store(str(payload.get("producer", "")), connection)
        require_handled("BigCommerce", "scope", reference.scope, ORDER_SCOPES)
        metadata = delivery_metadata(headers, _DELIVERY_HEADERS)
        metadata.update(scope=reference.scope, producer=payload.get("producer", ""))
        # `hash` is the SHA-1 of the payload's `data` only, so two updates of one order share it, and
        # `created_at` has whole seconds: two updates in one second would collide. The delivery's `webhook-id`
        # (Standard Webhooks: the same on every retry of one message) tells them apart.
        dedupe_key = f"{reference.scope}:{reference.hash}:{reference.created_at}:{headers.get('webhook-id', '')}"
        return Delivery(ORDER_REFERENCE_EVENT, dedupe_key, reference.order_id, reference.to_dict(), metadata)


def _require_own_store(producer: str, connection: Connection) -> None:
    """The client secret is the app's, shared by every store that installed it: the signed `producer` says which
    store sent this, and it must be the connection's own (else one merchant could post to another's URL)."""
    if producer != f"stores/{connection.store_hash}":
        raise SignatureError(f"producer {producer[:60]!r} is not this connection's store")
