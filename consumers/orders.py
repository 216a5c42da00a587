"""The `orders` consumer: cart orders from `cart.orders` become Infoplus orders, when Sync Orders is on.

One event is one version of one cart order: a snapshot (Shopify, WooCommerce) or a reference the consumer
fetches from the cart (BigCommerce). What is known of each order lives in the consumer's state store
(consumers/order_state.py), so most events need no Infoplus call at all. Then, in this order:
- older than a version already handled -> skipped as stale (a version skipped because Sync Orders was off counts
  as handled: replaying the skipped versions of an order paid, then cancelled, never creates it);
- already in Infoplus -> a change after creation (consumers/order_changes.py), whatever its age: decided from what
  was sent, with one Infoplus search only when there is a change to report;
- on a Shopify fulfillment service connection, not yet in Infoplus -> skipped: its fulfillment request creates it
  (consumers/fulfillment_requests.py), which then tells this order's partition what was sent (CREATED_EVENT);
  a fulfillment-service callback that arrived before a read of the requests began is coalesced into that read
  (its body is constant and replayable: repeats cost no Admin API call);
- in doubt (an intent to create with no answer recorded) or older than the store -> look in Infoplus first;
- created in the cart before the connection's `orders_since` (go-live) -> skipped with the reason: carts
  re-send old orders as updates (an edit, an archive, a reconciliation sweep), and a warehouse must not ship
  an order fulfilled long before go-live;
- cancelled, or not paid yet -> skipped with the reason (a later paid version creates it);
- already fulfilled in the cart (Shopify `fulfilled`, WooCommerce `completed`, BigCommerce Shipped/Completed)
  -> skipped with the reason: someone else shipped it;
- otherwise created in Infoplus, exactly once, without a search: the intent is recorded (acks=all) before
  `POST order` and the outcome after, so a crash in between is looked up, never created twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError

from carts import platform_for
from carts.base import ORDER_EVENT, ORDER_REFERENCE_EVENT
from carts.shopify.deliveries import FULFILLMENT_REQUEST_EVENT
from config.connections import ConnectionRegistry
from config.settings import Settings
from consumers.circuits import NO_CIRCUITS, Circuits
from consumers.engine import ConsumerEngine
from consumers.fulfillment_requests import CREATED_EVENT, FulfillmentRequests
from consumers.order_changes import OrderChanges
from consumers.order_state import OrderKey, OrderState
from consumers.outcomes import InvalidEvent, Outcome, done, skipped
from consumers.state import StateStore
from consumers.runner import run_consumer
from events import topics
from events.publisher import Publisher
from infoplus.client import InfoplusClient
from infoplus.orders import build_order, customer_order_no, parent_order
from infoplus.switches import SwitchBoard
from outbound.errors import Permanent, Retryable
from outbound.http import new_session
from schemas.connection import Connection
from schemas.envelope import Envelope
from schemas.order import CartOrder, CartOrderSchema, parse_version

_ORDER_SCHEMA = CartOrderSchema()
# The web host's clock (a callback's received_at) and this one's (a read's start) may differ a little: a callback
# counts as covered only when it arrived this much before the read began.
CALLBACK_CLOCK_MARGIN = timedelta(seconds=2)


class OrderHandler:
    """Create each paid cart order in Infoplus exactly once; hand later changes to OrderChanges."""

    def __init__(self, registry: ConnectionRegistry | SwitchBoard, infoplus: InfoplusClient, state: OrderState,
                 publisher: Publisher, *, cart_timeout: tuple[float, float] = (3.05, 10.0),
                 circuits: Circuits = NO_CIRCUITS) -> None:
        self._registry = registry
        self._circuits = circuits  # cart reads wait per connection (consumers/circuits.py); Infoplus is everyone's
        self._infoplus = infoplus
        self._cart_timeout = cart_timeout
        self._cart_session = new_session()  # one pooled session for every cart API this process calls
        self._memory = state
        self._changes = OrderChanges(state)
        self._fulfillment_requests = FulfillmentRequests(infoplus, state, publisher, timeout=cart_timeout,
                                                         session=self._cart_session, circuits=circuits)
        self._requests_read_at: dict[tuple[int, str], datetime] = {}  # (connection, kind) -> a read's start

    def __call__(self, envelope: Envelope) -> Outcome:
        connection = self._connection(envelope)
        if envelope.type == CREATED_EVENT:  # bookkeeping of an order already made: whatever the switch says now
            return self._fulfillment_requests.record_creation(connection, envelope)
        if not connection.sync_orders:  # read now, not at publish time: flips apply to queued events too
            self._seen_while_off(connection, envelope)
            return skipped(f"Sync Orders is off for connection {connection.id}", "sync_off")
        if envelope.type == FULFILLMENT_REQUEST_EVENT:  # Shopify fulfillment service (consumers/fulfillment_requests.py)
            return self._fulfillment_request(connection, envelope)
        stale = self._stale_reference(connection, envelope)
        if stale is not None:
            return stale
        return self._handle_version(connection, self._read_order(connection, envelope), envelope.event_id)

    def _fulfillment_request(self, connection: Connection, envelope: Envelope) -> Outcome:
        """The callback says only "something is requested" and its body is the same every time (only the body is
        signed, so a captured one can be replayed without end): one that arrived before a read of the requests
        began — a repeat, a replay, a burst queued behind one read — has no further effect. The read that started
        after it saw everything it announced. Kept in memory: after a restart or a rebalance, one read more."""
        kind = str((envelope.payload or {}).get("kind"))
        read_at = self._requests_read_at.get((connection.id, kind))
        received = parse_version(envelope.received_at)
        if read_at is not None and received < read_at - CALLBACK_CLOCK_MARGIN:
            return done(f"coalesced: the {kind} requests of connection {connection.id} were read at "
                        f"{read_at.isoformat()}, after this callback arrived")
        started = datetime.now(timezone.utc)
        outcome = self._fulfillment_requests(connection, envelope)
        self._requests_read_at[(connection.id, kind)] = started  # only a read that finished covers callbacks
        return outcome

    def _seen_while_off(self, connection: Connection, envelope: Envelope) -> None:
        """A snapshot skipped with `sync_off` still counts as seen: when ops switch on and replay the skipped
        events, a paid version replayed after the cancelled one was seen is stale, so the cancelled order is not
        created (docs/replay.md). A reference (BigCommerce) is read from the cart when replayed: nothing to keep."""
        if envelope.type != ORDER_EVENT:
            return
        try:
            order = _ORDER_SCHEMA.load(envelope.payload)
        except ValidationError:
            return  # skipped all the same; a replay will dead-letter it with the reason
        self._memory.handled((connection.id, order.cart_order_id), order.version())

    def _connection(self, envelope: Envelope) -> Connection:
        connection = self._registry.get(envelope.connection_id)
        if connection is None:
            raise InvalidEvent(f"connection {envelope.connection_id} is not in the registry")
        return connection

    def _stale_reference(self, connection: Connection, envelope: Envelope) -> Outcome | None:
        """A reference announcing a change older than the version already handled (e.g. BigCommerce retrying
        an old delivery for hours): that version already included the change, so skip without fetching."""
        if envelope.type != ORDER_REFERENCE_EVENT:
            return None
        reference = envelope.payload
        announced = datetime.fromtimestamp(int(reference.get("created_at") or 0), timezone.utc)
        newest = self._memory.newer_than((connection.id, str(reference.get("order_id"))), announced)
        if newest is None:
            return None
        return skipped(f"stale: a change to order {reference.get('order_id')} announced at {announced.isoformat()} "
                       f"is older than version {newest.isoformat()} already handled", "stale")

    def _read_order(self, connection: Connection, envelope: Envelope) -> CartOrder:
        if envelope.type == ORDER_EVENT:
            return _ORDER_SCHEMA.load(envelope.payload)
        if envelope.type == ORDER_REFERENCE_EVENT:
            return self._fetch_order(connection, envelope.payload)
        raise InvalidEvent(f"event type {envelope.type!r} is not an order event")

    def _fetch_order(self, connection: Connection, reference: dict) -> CartOrder:
        """Thin webhooks (BigCommerce): read the order as it is now; 429/5xx/timeouts raise Retryable."""
        factory = platform_for(connection.platform).orders
        if factory is None:
            raise InvalidEvent(f"platform {connection.platform} cannot fetch orders by reference")
        fetcher = factory(connection, timeout=self._cart_timeout, session=self._cart_session)
        with self._circuits.calling(connection.id):  # a failing store parks its own references only
            order = fetcher.fetch_order(reference)
        if order is None:
            raise InvalidEvent(f"order {reference.get('order_id')} no longer exists in the cart; if it reached "
                               f"Infoplus, ops must decide what to do with it", reference=reference)
        return order

    def _handle_version(self, connection: Connection, order: CartOrder, event_id: str) -> Outcome:
        key = (connection.id, order.cart_order_id)
        newest = self._memory.newer_than(key, order.version())
        if newest is not None:
            return skipped(f"stale: order {order.name} version {order.updated_at} is older than version "
                           f"{newest.isoformat()} already handled", "stale")
        try:
            return self._handle(connection, order, event_id)
        finally:  # a retry of this same event has the same version, so it is never taken for stale
            self._memory.handled(key, order.version())

    def _handle(self, connection: Connection, order: CartOrder, event_id: str) -> Outcome:
        key: OrderKey = (connection.id, order.cart_order_id)
        number = customer_order_no(connection.id, order.cart_order_id)
        created = self._memory.created(key)
        if created is not None:
            return self._changes.known_creation(connection, order, created, event_id,
                                                lookup=lambda: self._infoplus.find_orders(number, connection.lob_id))
        if connection.fulfillment_service:  # the fulfillment request is the signal, and it sends only our lines
            return skipped(f"order {order.name}: connection {connection.id} is a Shopify fulfillment service; "
                           f"orders are created from its fulfillment requests (later versions are compared once "
                           f"Infoplus has it)", "fulfillment_service")
        if self._memory.must_look(key, order.created_at):
            existing = self._infoplus.find_orders(number, connection.lob_id)
            if existing:
                self._memory.record_created(key, parent_order(existing))
                return self._changes.after_creation(connection, order, existing, event_id)
        self._memory.known(key)
        before_go_live = _before_go_live(connection, order)
        if before_go_live is not None:  # ahead of the paid rule: "sent when paid" would not be true
            return before_go_live
        if order.cancelled:
            return skipped(f"order {order.name} was cancelled in the cart before it reached Infoplus", "cancelled")
        if order.fulfilled_in_cart:  # shipped by someone else (the merchant, another warehouse): not twice
            return skipped(f"order {order.name} is already fulfilled in the cart before it reached Infoplus: "
                           f"not created, so it is not shipped twice", "fulfilled_in_cart")
        if not order.paid:
            return skipped(f"order {order.name} is not paid yet (cart status {order.cart_status or '-'}); "
                           f"it is sent when the cart reports it paid", "unpaid")
        self._check_shippable(order)
        return self._create(connection, order, key, number)

    def _create(self, connection: Connection, order: CartOrder, key: OrderKey, number: str) -> Outcome:
        """Intent, call, outcome: an intent left without an outcome makes the next event look first."""
        body = build_order(connection, order)
        self._memory.intend_to_create(key)
        try:
            created = self._infoplus.create_order(body)
        except (Permanent, Retryable) as error:
            if isinstance(error, Permanent) or error.status == 429:  # refused, or not even read: nothing was made
                self._memory.not_created(key)
            raise  # a 5xx or a timeout stays in doubt: the retry looks first
        self._memory.record_created(key, {**body, "orderNo": created.get("orderNo")})
        return done(f"created Infoplus order {created.get('orderNo')} for {number}")

    @staticmethod
    def _check_shippable(order: CartOrder) -> None:
        lines = [line for line in order.lines if line.requires_shipping]
        if not lines:
            raise InvalidEvent(f"order {order.name} has nothing to ship")
        missing = [line.cart_line_id for line in lines if not line.sku]
        if missing:
            raise InvalidEvent(f"order {order.name} has lines without a SKU", cart_line_ids=missing)
        if order.ship_to.is_empty() and order.bill_to.is_empty():
            raise InvalidEvent(f"order {order.name} has no address to ship to")


def _before_go_live(connection: Connection, order: CartOrder) -> Outcome | None:
    """Only creation is guarded; read from the registry per event, so an edit applies to queued events too."""
    since = connection.orders_since
    if since is None or parse_version(order.created_at) >= since:
        return None
    return skipped(f"order {order.name} created {order.created_at} is before orders_since {since.isoformat()} "
                   f"of connection {connection.id}: not created in Infoplus", "before_orders_since")


def build(settings: Settings) -> ConsumerEngine:
    infoplus = InfoplusClient.from_settings(settings)
    publisher = Publisher(settings)
    store = StateStore(settings, topics.CART_ORDERS, publisher)
    switches = SwitchBoard.from_settings(settings, infoplus)
    circuits = Circuits.from_settings("orders", settings, switches.registry)
    handler = OrderHandler(switches, infoplus, OrderState(store), publisher,
                           cart_timeout=settings.http_timeout, circuits=circuits)
    return ConsumerEngine(kind="orders", topic=topics.CART_ORDERS, handler=handler, settings=settings,
                          publisher=publisher, state=store, circuits=circuits)


def main() -> None:
    run_consumer(build)


if __name__ == "__main__":
    main()
