"""The `orders` consumer: cart orders from `cart.orders` become Infoplus orders, when Sync Orders is on."""
from __future__ import annotations

from config.connections import ConnectionRegistry
from config.settings import Settings
from consumers.engine import ConsumerEngine
from consumers.outcomes import InvalidEvent, Outcome, done, skipped
from consumers.runner import run_consumer
from events import topics
from infoplus.client import InfoplusClient
from infoplus.orders import build_order, customer_order_no
from schemas.connection import Connection
from schemas.envelope import Envelope
from schemas.order import CartOrder, CartOrderSchema


class OrderHandler:
    """Create each paid cart order in Infoplus exactly once (look before you create)."""

    def __init__(self, registry: ConnectionRegistry, infoplus: InfoplusClient) -> None:
        self._registry = registry
        self._infoplus = infoplus

    def __call__(self, envelope: Envelope) -> Outcome:
        connection = self._connection(envelope)
        if not connection.sync_orders:  # read now, not at publish time: flips apply to queued events too
            return skipped(f"Sync Orders is off for connection {connection.id}")
        order = CartOrderSchema().load(envelope.payload)
        if order.cancelled:
            return skipped(f"order {order.name} was cancelled in the cart before it reached Infoplus")
        if not order.paid:
            return skipped(f"order {order.name} is not paid yet; it is sent when the cart reports it paid")
        return self._create_once(connection, order)

    def _connection(self, envelope: Envelope) -> Connection:
        connection = self._registry.get(envelope.connection_id)
        if connection is None:
            raise InvalidEvent(f"connection {envelope.connection_id} is not in the registry")
        return connection

    def _create_once(self, connection: Connection, order: CartOrder) -> Outcome:
        number = customer_order_no(connection.id, order.cart_order_id)
        existing = self._infoplus.find_orders(number, connection.lob_id)
        if existing:
            return done(f"order {number} already in Infoplus as {existing[0].get('orderNo')}")
        self._check_shippable(order)
        created = self._infoplus.create_order(build_order(connection, order))
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


def build(settings: Settings) -> ConsumerEngine:
    registry = ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds)
    handler = OrderHandler(registry, InfoplusClient.from_settings(settings))
    return ConsumerEngine(kind="orders", topic=topics.CART_ORDERS, handler=handler, settings=settings)


def main() -> None:
    run_consumer(build)


if __name__ == "__main__":
    main()
