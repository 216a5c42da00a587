"""Which connection an event will call, told before it runs and without a call — for the engine's per-connection
cap on events in flight (consumers/inflight.py). A hint only: None means "found out by the handler", and such an
event's cart calls are still held to the connection's cap by its circuit (consumers/circuits.py)."""
from __future__ import annotations

from typing import Callable

from config.connections import ConnectionRegistry
from infoplus.orders import parse_customer_order_no
from schemas.envelope import Envelope


def connection_of_infoplus_event(registry: ConnectionRegistry) -> Callable[[Envelope], int | None]:
    """For an Infoplus event (a shipment, a stock level): the connection a parked part waits for; else the one a
    poller-read order names in its customerOrderNo (`<connection id>-<cart order id>`); else the LOB's only
    connection. A LOB with several connections: None (a level fans out to all of them)."""
    def connection_of(envelope: Envelope) -> int | None:
        if envelope.connection_id is not None:
            return envelope.connection_id
        order = envelope.payload.get("order")
        if isinstance(order, dict):
            parsed = parse_customer_order_no(str(order.get("customerOrderNo") or ""))
            if parsed is not None:
                return parsed[0]
        lob_id = envelope.payload.get("lob_id")
        connections = registry.for_lob(lob_id) if isinstance(lob_id, int) else []
        return connections[0].id if len(connections) == 1 else None

    return connection_of
