"""What every cart platform module provides."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from schemas.connection import Connection

ORDER_EVENT = "cart.order"  # a snapshot of one cart order as the cart sent it


@dataclass
class Delivery:
    """One authentic cart delivery, ready to publish."""

    event_type: str
    dedupe_key: str  # the same for every re-send of this delivery: it fixes the event id
    entity_key: str  # the cart's order id: the Kafka key, so one order's events stay in order
    payload: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


class IgnoredDelivery(Exception):
    """An authentic delivery cartbridge does not act on (e.g. a topic it does not subscribe to)."""


class DeliveryReader(Protocol):
    """Inbound: the cart's order webhooks."""

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """An unsigned "is this URL alive?" request the cart sends when a webhook is created."""

    def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        """Raise signing.SignatureError unless the delivery was signed with the connection's secret."""

    def read_delivery(self, headers: Mapping[str, str], payload: Any, connection: Connection) -> Delivery:
        """Validate and normalize; raise marshmallow.ValidationError (422) or IgnoredDelivery (200)."""


@dataclass(frozen=True)
class CartPlatform:
    """One cart platform: the same small surface for each, so adding a platform is adding one package.

    `deliveries` reads the cart's webhooks (web tier); the outbound parts (stock, tracking) are added by the
    consumers that need them.
    """

    name: str
    deliveries: DeliveryReader
