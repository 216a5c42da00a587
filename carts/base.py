"""What every cart platform module provides."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol, TypeVar

import requests

from carts.onboarding import OnboardingFactory
from carts.tracking import TrackingWriterFactory
from schemas.connection import Connection
from schemas.order import CartOrder

ORDER_EVENT = "cart.order"  # a snapshot of one cart order as the cart sent it
# "order N changed" (thin payloads): the consumer fetches the order. Payload: at least `order_id` and
# `created_at` (unix seconds the cart produced the event), e.g. schemas.bigcommerce.OrderReference.
ORDER_REFERENCE_EVENT = "cart.order_reference"


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


def delivery_metadata(headers: Mapping[str, str], names: Mapping[str, str]) -> dict[str, str]:
    """The sender's delivery headers that are present, under our names (`names`: our name -> header)."""
    return {name: headers[header] for name, header in names.items() if headers.get(header)}


def require_handled(platform: str, kind: str, value: str | None, handled: frozenset[str]) -> None:
    """Raise IgnoredDelivery (answered 200) for a topic or scope the platform module does not act on."""
    if value not in handled:
        raise IgnoredDelivery(f"{platform} {kind} {value!r} is not handled (handled: {', '.join(sorted(handled))})")


class DeliveryReader(Protocol):
    """Inbound: the cart's order webhooks."""

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """An unsigned "is this URL alive?" request the cart sends when a webhook is created."""

    def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        """Raise signing.SignatureError unless the delivery was signed with the connection's secret."""

    def read_delivery(self, headers: Mapping[str, str], payload: Any, connection: Connection) -> Delivery:
        """Validate and normalize; raise marshmallow.ValidationError (422) or IgnoredDelivery (200)."""


@dataclass(frozen=True)
class StockLevel:
    """What one cart should show for one SKU (docs/inventory.md)."""

    sku: str
    quantity: int  # Infoplus Orderable Quantity, never below zero
    sellable_at_zero: bool  # Backorder on and the connection does not stop sales at zero
    change_id: str  # the same for every retry of this change: an idempotency key where the cart takes one


@dataclass(frozen=True)
class StockResult:
    """What a stock write did; failures are exceptions (outbound.errors.Retryable / Permanent)."""

    applied: bool
    detail: str  # what was sent, or why nothing was
    code: str = "applied"  # machine-readable: "applied", "not_in_cart", "not_tracked"

    @classmethod
    def skipped(cls, code: str, detail: str) -> "StockResult":
        return cls(False, detail, code)


class StockWriter(Protocol):
    """Outbound: set one SKU's stock in one cart. An absolute value, so writing it twice is harmless."""

    def set_stock(self, level: StockLevel) -> StockResult:
        """Set the quantity and the sell-at-zero rule; a SKU the cart lacks is a skipped result, not an error."""


class BulkStockWriter(StockWriter, Protocol):
    """Optional: many SKUs in as few calls as the cart allows (a poll batch, a resync page)."""

    def set_many(self, levels: list[StockLevel]) -> dict[str, StockResult]:
        """Results for the SKUs it settled; a SKU left out (or a raised error) is for `set_stock` to retry."""


@dataclass(frozen=True)
class CartStock:
    """What one cart shows for one SKU, in the terms cartbridge writes (preview: "cart now" and "would set")."""

    sku: str
    code: str  # "found", or why a write would not happen: "not_in_cart", "not_tracked", "not_stocked"
    quantity: int | None = None  # None: the cart does not manage it, or the SKU's variants disagree (see detail)
    policy: str | None = None  # the cart's own word for selling at zero (Shopify DENY/CONTINUE, WooCommerce
    #                            no/notify); None where cartbridge writes none (BigCommerce)
    detail: str = ""

    @property
    def found(self) -> bool:
        return self.code == "found"

    def differs_from(self, wanted: "CartStock") -> bool:
        """True when writing `wanted` would change what the cart shows (a write that preview would make)."""
        return self.quantity != wanted.quantity or (wanted.policy is not None and self.policy != wanted.policy)


class StockReader(Protocol):
    """Optional, for preview (consumers/inventory.py, `cartbridge-preview`): what the cart shows now, and what
    a write would make it show — without writing.

    It must answer from the lookup a write makes anyway (the same SKU cache): preview spends no call a write
    would not, and a write after it spends none more. Shopify, WooCommerce, BigCommerce and Magento have it; a
    platform without it cannot preview: its connections' preview records say so (code `preview_unsupported`) and
    nothing is written."""

    def read_stock(self, skus: list[str]) -> dict[str, CartStock]:
        """SKU -> what the cart shows now; raises outbound.errors.Retryable / Permanent like a write."""

    def would_show(self, level: StockLevel) -> CartStock:
        """What the cart would show after `set_stock(level)`."""


_Page = TypeVar("_Page")
ReadPage = Callable[[Callable[[], _Page]], _Page]  # runs one page's call (e.g. waits out a 429, asks again)


class CatalogLister(Protocol):
    """Optional, for preview: every SKU the cart sells, from a listing of its whole catalog — the SKUs no
    Infoplus item leads to. Read-only, and spent only by a resync in preview (consumers/inventory_resync.py; the
    calls per platform are in docs/preview.md). A platform without it: the preview report says no listing was made."""

    def list_catalog(self, read_page: ReadPage) -> Iterator[list[CartStock]]:
        """Page by page, what the cart shows per SKU it sells (quantity None where the listing does not carry it,
        e.g. Magento); `read_page` wraps each call. Raises outbound.errors.Retryable / Permanent."""


class CatalogListerFactory(Protocol):
    def __call__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> CatalogLister:
        """A lister for one connection."""


class StockWriterFactory(Protocol):
    def __call__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> StockWriter:
        """A writer for one connection; it may cache SKU lookups for its lifetime."""


class OrderFetcher(Protocol):
    """Outbound, for carts whose webhooks carry only an id: read the order as it is now."""

    def fetch_order(self, reference: dict[str, Any]) -> CartOrder | None:
        """The order an ORDER_REFERENCE_EVENT payload names; None if the cart no longer has it.

        Raises outbound.errors.Retryable (429, 5xx, timeouts) / Permanent, or marshmallow.ValidationError."""


class OrderFetcherFactory(Protocol):
    def __call__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> OrderFetcher:
        """A fetcher for one connection."""


@dataclass(frozen=True)
class CartPlatform:
    """One cart platform: the same small surface for each, so adding a platform is adding one package.

    `deliveries` reads the cart's webhooks (web tier); the outbound parts (stock, tracking) are added by the
    consumers that need them.
    """

    name: str
    deliveries: DeliveryReader
    stock: StockWriterFactory | None = None  # Infoplus -> cart inventory (carts/<platform>/inventory.py)
    orders: OrderFetcherFactory | None = None  # thin order webhooks -> the order (carts/<platform>/orders.py)
    tracking: TrackingWriterFactory | None = None  # Infoplus shipments -> cart fulfillments (carts/<platform>/tracking.py)
    catalog: CatalogListerFactory | None = None  # every SKU the cart sells, for preview (carts/<platform>/catalog.py)
    onboarding: OnboardingFactory | None = None  # webhooks and checks for cartbridge-connect (carts/<platform>/onboarding.py)
