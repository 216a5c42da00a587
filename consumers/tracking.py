"""The `tracking` consumer: Infoplus shipments from `infoplus.shipments` become cart fulfillments, when Sync
Tracking Data is on — exactly once.

For each shipment (one carton) it finds the Infoplus order (`GET order/{orderNo}`), the connection and cart
order named by the order's customerOrderNo (`<connection id>-<cart order id>`, cross-checked against the
connection's LOB and order source), reads the switch *now*, and hands the platform's tracking writer the state
the cart order should reach (carts/tracking.py has the rules: what shipped, several cartons, backorders,
look-before-write).

Outcomes: written or already there -> done; switch off -> skipped record; switch in preview -> everything but
the write (the writer's `plan`: the same reads, the writes and shopper emails described) on a skipped record
with code `preview`, the connection and `preview` {cart_order_id, infoplus_order_no, parcels, cart_now,
would_write, emails}; an order that did not come from a
cart connection at all (entered by hand, EDI …) -> skipped; an order that cannot be matched (not in Infoplus,
customerOrderNo not ours, connection unknown or pointing elsewhere) -> dead-letter with the reason; a carton
whose order does not show anything shipped yet -> deferred (consumers/deferral.py) and looked at again, for up to
TRACKING_WAIT_FOR_SHIPPED_SECONDS, then dead-lettered; cart 429/5xx/timeouts -> that connection's circuit
(consumers/circuits.py): the shipment is parked on infoplus.shipments.retry for that connection alone, and while
its circuit is open the connection's later shipments are parked without a cart call. Infoplus failures are
everyone's: the engine pauses the partition as before.

Order: a parked carton may be overtaken by a later carton of the same order (after a restart the circuit starts
closed). That is harmless: each write looks for every carton of the order in Infoplus and in the cart first
(carts/tracking.py), so whichever carton comes first writes what is there and the other finds it written.
"""
from __future__ import annotations

from dataclasses import dataclass

import requests
from marshmallow import ValidationError

from carts import PLATFORMS
from carts.carriers import carrier_for
from carts.tracking import Parcel, TrackingUpdate, TrackingWriter
from config.connections import ConnectionRegistry
from config.settings import Settings
from consumers.circuits import NO_CIRCUITS, Circuits
from consumers.connection_hints import connection_of_infoplus_event
from consumers.engine import ConsumerEngine
from consumers.deferral import DeferPolicy
from consumers.outcomes import InvalidEvent, NotYet, Outcome, done, skipped
from consumers.runner import run_consumer
from events import topics
from infoplus.client import InfoplusClient
from infoplus.orders import parse_customer_order_no
from infoplus.switches import SwitchBoard
from outbound.http import new_session
from schemas.connection import Connection
from schemas.envelope import Envelope
from schemas.infoplus import InfoplusShipmentSchema, ShipmentRecord
from schemas.tracking import VOID_STATUSES, InfoplusOrder, InfoplusOrderSchema, ShipmentPayloadSchema, order_number

_SHIPMENT = ShipmentPayloadSchema()
_ORDER = InfoplusOrderSchema()
_INFOPLUS_SHIPMENT = InfoplusShipmentSchema()


@dataclass(frozen=True)
class _Match:
    """Where a shipment goes: the connection and the cart order its Infoplus order came from."""

    connection: Connection
    cart_order_id: str
    order: InfoplusOrder


class TrackingHandler:
    """One shipment event -> the cart order shows it shipped, with its tracking number (exactly once)."""

    def __init__(self, registry: ConnectionRegistry | SwitchBoard, infoplus: InfoplusClient, *,
                 timeout: tuple[float, float], session: requests.Session | None = None,
                 circuits: Circuits = NO_CIRCUITS) -> None:
        self._registry = registry
        self._circuits = circuits  # every cart call goes through its connection's circuit
        self._infoplus = infoplus
        self._timeout = timeout
        self._session = session or new_session()  # one pooled session for every cart this process writes to

    def __call__(self, envelope: Envelope) -> Outcome:
        shipment = _SHIPMENT.load(envelope.payload)
        if shipment.status.lower() in VOID_STATUSES:
            return skipped(f"shipment {shipment.tracking_no} of Infoplus order {order_number(shipment.order_no)} is "
                           f"{shipment.status}: a voided label is not sent to the shopper", "void")
        order = self._infoplus_order(shipment, envelope.payload.get("order"))
        match = self._match(order)
        if isinstance(match, Outcome):
            return match
        previewing = match.connection.previewing("tracking")
        if not match.connection.sync_tracking_data and not previewing:  # read now: flips apply to queued ones too
            return skipped(f"Sync Tracking Data is off for connection {match.connection.id}; tracking "
                           f"{shipment.tracking_no} of Infoplus order {order.number} was not sent to the cart", "sync_off")
        update = self._update(match, shipment)
        if previewing:
            return self._preview(match, update)
        writer = self._writer(match.connection)
        with self._circuits.calling(match.connection.id):  # only the cart: Infoplus failures are everyone's
            return done(writer.write(update))

    def _preview(self, match: _Match, update: TrackingUpdate) -> Outcome:
        writer = self._writer(match.connection)
        if not hasattr(writer, "plan"):  # written nothing, and said so: not a failure of the shipment
            return skipped(f"preview: {match.connection.platform} cannot preview tracking (carts/tracking.py "
                           f"TrackingWriter.plan); Infoplus order {update.infoplus_order_no} was not sent to the cart",
                           "preview_unsupported", extra={"connection_id": match.connection.id})
        with self._circuits.calling(match.connection.id):
            plan = writer.plan(update)
        found = {"flow": "tracking", "cart_order_id": update.cart_order_id,
                 "infoplus_order_no": update.infoplus_order_no,
                 "parcels": [{"tracking_no": p.tracking_no, "carrier": p.carrier.infoplus_name, "url": p.url}
                             for p in update.parcels],
                 "shipped": dict(update.shipped), "notify_customer": update.notify_customer, **plan.to_record()}
        said = "; ".join(w.summary for w in plan.writes) or plan.note
        emails = ", ".join(w.email for w in plan.writes if w.email) or "no email"
        return skipped(f"preview: Infoplus order {update.infoplus_order_no} would write: {said} ({emails}); nothing "
                       f"written: Sync Tracking Data is in preview", "preview",
                       extra={"connection_id": match.connection.id, "preview": found})

    # -- matching --------------------------------------------------------------------------------------------
    def _infoplus_order(self, shipment: ShipmentRecord, read_ahead: dict | None = None) -> InfoplusOrder:
        """The shipment's order: the one the poller read ahead (poller/order_snapshots.py) when it shows this
        shipment's goods shipped, else `GET order/{orderNo}` — the floor for a pushed shipment."""
        ahead = self._read_ahead(shipment, read_ahead)
        if ahead is not None:
            return ahead
        found = self._infoplus.get_order(shipment.order_no)
        if found is None:
            number = order_number(shipment.order_no)
            raise InvalidEvent(f"Infoplus order {number} (tracking {shipment.tracking_no}) does not exist in "
                               f"Infoplus: check the shipment's orderNo", order_no=number)
        order = _ORDER.load(found)
        if order.lob_id != shipment.lob_id:
            raise InvalidEvent(f"shipment {shipment.tracking_no} says LOB {shipment.lob_id}, but Infoplus order "
                               f"{order.number} belongs to LOB {order.lob_id}", order_no=order.number)
        return order

    @staticmethod
    def _read_ahead(shipment: ShipmentRecord, read_ahead: dict | None) -> InfoplusOrder | None:
        if not read_ahead:
            return None
        try:
            order = _ORDER.load(read_ahead)
        except ValidationError:
            return None
        usable = order.order_no == shipment.order_no and order.lob_id == shipment.lob_id and order.shipped_by_sku()
        return order if usable else None

    def _match(self, order: InfoplusOrder) -> _Match | Outcome:
        parsed = parse_customer_order_no(order.customer_order_no)
        if parsed is None:
            return self._not_ours(order)
        connection = self._registry.get(parsed[0])
        if connection is None:
            raise InvalidEvent(f"Infoplus order {order.number} has customerOrderNo {order.customer_order_no!r}, "
                               f"but connection {parsed[0]} is not in the registry (removed, or a different "
                               f"environment's order)", order_no=order.number)
        self._check_same_store(order, connection)
        return _Match(connection, parsed[1], order)

    def _not_ours(self, order: InfoplusOrder) -> Outcome:
        """An order cartbridge did not create: ops must look only if it claims to come from a connected cart."""
        sources = [c for c in self._registry.for_lob(order.lob_id) if c.order_source_id == order.order_source_id]
        if not sources:
            return skipped(f"Infoplus order {order.number} (LOB {order.lob_id}, order source "
                           f"{order.order_source_id}) did not come from a cart connection: no cart to update", "not_from_cart")
        raise InvalidEvent(f"Infoplus order {order.number} is from order source {order.order_source_id} "
                           f"(connection {sources[0].id}), but its customerOrderNo {order.customer_order_no!r} is "
                           f"not '<connection id>-<cart order id>', so the cart order cannot be found",
                           order_no=order.number)

    @staticmethod
    def _check_same_store(order: InfoplusOrder, connection: Connection) -> None:
        if order.lob_id != connection.lob_id or order.order_source_id not in (None, connection.order_source_id):
            raise InvalidEvent(f"Infoplus order {order.number} (LOB {order.lob_id}, order source "
                               f"{order.order_source_id}) names connection {connection.id}, which is LOB "
                               f"{connection.lob_id}, order source {connection.order_source_id}: fix the "
                               f"connection registry or the order", order_no=order.number)

    # -- what the cart should show ---------------------------------------------------------------------------
    def _update(self, match: _Match, shipment: ShipmentRecord) -> TrackingUpdate:
        order = match.order
        shipped = order.shipped_by_sku()
        if not shipped:  # Infoplus writes the carton and the order's shipped quantities separately: wait for them
            raise NotYet(f"Infoplus order {order.number} has shipment {shipment.tracking_no}, but none of its lines "
                         f"reports a shipped quantity yet (status {order.status!r})", order_no=order.number)
        family_total = shipped if order.shipped_whole_alone else self._shipped_by_all_orders(match)
        return TrackingUpdate(
            cart_order_id=match.cart_order_id, infoplus_order_no=order.number,
            parcels=self._parcels(order, shipment), shipped=shipped,
            shipped_total=family_total, notify_customer=match.connection.notify_customer)

    def _parcels(self, order: InfoplusOrder, shipment: ShipmentRecord) -> tuple[Parcel, ...]:
        """This carton first, then the order's other cartons Infoplus already knows (one fulfillment, one email).
        A shipment that says its order has one carton needs no search for others (an Infoplus call saved)."""
        others = [] if shipment.number_of_cartons == 1 else self._other_cartons(order)
        parcels: dict[str, Parcel] = {}
        for record in [shipment, *others]:
            key = record.tracking_no.strip().upper()
            parcels.setdefault(key, Parcel(record.tracking_no.strip(), carrier_for(record.carrier_company),
                                           record.ship_date))
        return tuple(parcels.values())

    def _other_cartons(self, order: InfoplusOrder) -> list[ShipmentRecord]:
        cartons = []
        for raw in self._infoplus.order_shipments(order.order_no):
            try:
                cartons.append(_INFOPLUS_SHIPMENT.load(raw))
            except ValidationError:  # e.g. freight without a tracking number: nothing to show the shopper
                continue
        live = [carton for carton in cartons if carton.status.lower() not in VOID_STATUSES]
        return sorted(live, key=lambda carton: carton.carton_no or 0)

    def _shipped_by_all_orders(self, match: _Match) -> dict[str, int]:
        """SKU -> units shipped by the parent order and all its backorder children (same customerOrderNo)."""
        found = self._infoplus.find_orders(match.order.customer_order_no, match.order.lob_id)
        family = {o.order_no: o for o in _ORDER.load(found, many=True)} | {match.order.order_no: match.order}
        totals: dict[str, int] = {}
        for member in family.values():
            for sku, quantity in member.shipped_by_sku().items():
                totals[sku] = totals.get(sku, 0) + quantity
        return totals

    def _writer(self, connection: Connection) -> TrackingWriter:
        platform = PLATFORMS.get(connection.platform)
        if platform is None or platform.tracking is None:
            raise InvalidEvent(f"cartbridge cannot post tracking to {connection.platform} yet "
                               f"(connection {connection.id})")
        return platform.tracking(connection, timeout=self._timeout, session=self._session)


def build(settings: Settings) -> ConsumerEngine:
    infoplus = InfoplusClient.from_settings(settings)
    switches = SwitchBoard.from_settings(settings, infoplus)
    circuits = Circuits.from_settings("tracking", settings, switches.registry)
    handler = TrackingHandler(switches, infoplus, timeout=settings.http_timeout, circuits=circuits)
    wait = DeferPolicy(settings.defer_first_delay_seconds, settings.defer_max_delay_seconds,
                       settings.tracking_wait_for_shipped_seconds)
    return ConsumerEngine(kind="tracking", topic=topics.INFOPLUS_SHIPMENTS, handler=handler, settings=settings,
                          defer=wait, circuits=circuits, connection_of=connection_of_infoplus_event(switches.registry))


def main() -> None:
    run_consumer(build)


if __name__ == "__main__":
    main()
