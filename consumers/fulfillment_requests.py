"""Shopify fulfillment and cancellation requests, for a `fulfillment_service: true` connection (part of `orders`).

The callback names no order (`{"kind": ...}`), so each notification event is keyed per connection
(`<connection>:fulfillment-service`) and this handler reads what is requested now at the connection's location
(`location_id`, the fulfillment service's own): `shop.assignedFulfillmentOrders`. State lives in the orders state
store under `<connection>:fs:<cart order id>`, on the notification's partition, beside every other request of that
store.

FULFILLMENT_REQUEST, per order: the Infoplus order is made from exactly the requested fulfillment orders' lines
(so lines Shopify assigned to other locations never reach Infoplus), customerOrderNo `<connection>-<order id>` as
for every order; intent before `POST order`, outcome after (in doubt: search first). Then each fulfillment order
is accepted (message: the Infoplus order number) and the acceptance recorded. A request Infoplus refuses (an
unknown SKU), or one with no SKU or address, is rejected with the reason and the event dead-lettered for ops.
Redelivery, a crash between Infoplus and the acceptance, a callback twice: one order, one acceptance (an accepted
request is no longer FULFILLMENT_REQUESTED; one created but not yet accepted is accepted without a second order).
Every Shopify call — the read of the requests and each answer — goes through the connection's circuit: a store
failing (429, 5xx, timeout) parks that connection's notification on `cart.orders.retry` and the partition moves on;
when it comes due, the order Infoplus already has is found in the state store and only the answer is sent.

Once Infoplus has the order, the creation is also published to `cart.orders` under the order's own key
(CREATED_EVENT, once): the order's webhooks are decided on that partition, and they compare what Infoplus got —
our lines, with the order's quantity of each then, and the ship-to — with each later version of the order
(consumers/order_changes.py), so an edit after creation reaches ops as on any connection.

CANCELLATION_REQUEST, per fulfillment order: never in Infoplus -> accepted at once; already Canceled in Infoplus
-> accepted; otherwise ops must act (dead letter `cancel_in_infoplus` with the Infoplus order and status, once per
request: a new cancellation request after ops rejected one is told again) and
`cartbridge-shopify-fulfillment-service --accept-cancellation / --reject-cancellation` answers it.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import requests

from carts.shopify.fulfillment_service import FULFILLMENT_REQUESTED, KINDS, ShopifyFulfillmentService
from consumers.circuits import NO_CIRCUITS, Circuits
from consumers.order_changes import OpsMustAct
from consumers.order_state import OrderKey, OrderState
from consumers.outcomes import InvalidEvent, Outcome, done
from events import topics
from events.envelopes import make_envelope
from events.publisher import Publisher
from infoplus.client import InfoplusClient
from infoplus.orders import build_order, customer_order_no, is_cancelled, parent_order
from outbound.errors import Permanent, Retryable
from schemas.connection import Connection
from schemas.envelope import Envelope
from schemas.order import Address, CartOrder, OrderLine

log = logging.getLogger(__name__)

# What Infoplus got for one Shopify order, told to the order's own partition (payload: order_id, created, lines).
CREATED_EVENT = "cartbridge.fulfillment_service_order_created"


def _legacy(gid: str | None) -> str:
    return str(gid or "").rsplit("/", 1)[-1]


def cart_order(fulfillment_orders: list[dict[str, Any]]) -> CartOrder:
    """The Infoplus-bound order made of these fulfillment orders (one Shopify order) and nothing else."""
    first = fulfillment_orders[0]
    order, where = first.get("order") or {}, first.get("destination") or {}
    ship_to = Address(name=" ".join(p for p in (where.get("firstName"), where.get("lastName")) if p),
                      company=where.get("company") or "", street=where.get("address1") or "",
                      street2=where.get("address2") or "", city=where.get("city") or "",
                      state=where.get("province") or "", zip=where.get("zip") or "",
                      country=where.get("countryCode") or "", phone=where.get("phone") or "",
                      email=where.get("email") or order.get("email") or "")
    lines = [OrderLine(cart_line_id=_legacy((line.get("lineItem") or {}).get("id") or line.get("id")),
                       sku=line.get("sku") or (line.get("lineItem") or {}).get("sku") or None,
                       quantity=int(line.get("remainingQuantity") or 0),
                       unit_price=float(((line.get("originalUnitPriceSet") or {}).get("shopMoney") or {})
                                        .get("amount") or 0),
                       requires_shipping=line.get("requiresShipping", True) is not False)
             for fo in fulfillment_orders for line in fo["lines"] if int(line.get("remainingQuantity") or 0) > 0]
    return CartOrder(cart_order_id=order.get("legacyResourceId") or _legacy(order.get("id")),
                     name=order.get("name") or "", created_at=order.get("createdAt"),
                     updated_at=order.get("updatedAt") or order.get("createdAt"), paid=True, cancelled=False,
                     lines=lines, bill_to=ship_to, ship_to=ship_to, email=order.get("email") or "",
                     currency=order.get("currencyCode") or "", cart_status="fulfillment requested")


def lines_at_creation(fulfillment_orders: list[dict[str, Any]]) -> dict[str, int]:
    """Cart line id -> the order's quantity of it now (`lineItem.currentQuantity`), for the lines sent."""
    quantities = {}
    for fo in fulfillment_orders:
        for line in fo["lines"]:
            if int(line.get("remainingQuantity") or 0) <= 0 or line.get("requiresShipping", True) is False:
                continue  # not sent to Infoplus (cart_order, build_order)
            item = line.get("lineItem") or {}
            quantities[_legacy(item.get("id") or line.get("id"))] = int(
                item.get("currentQuantity", line.get("totalQuantity")) or 0)
    return quantities


def _cancellation_mark(fo: dict[str, Any]) -> str:
    """One report per cancellation request, not per fulfillment order: after ops rejected one, the merchant may
    ask again, and that request needs ops too."""
    newest = ((fo.get("cancellationRequests") or {}).get("nodes") or [{}])[-1]
    return f"cancel:{fo['id']}:{newest.get('id') or newest.get('sentAt') or ''}"


def _unshippable(order: CartOrder) -> str | None:
    lines = [line for line in order.lines if line.requires_shipping]
    if not lines:
        return f"order {order.name} has nothing to ship"
    if any(not line.sku for line in lines):
        return f"order {order.name} has lines without a SKU"
    if order.ship_to.is_empty():
        return f"order {order.name} has no address to ship to"
    return None


class FulfillmentRequests:
    def __init__(self, infoplus: InfoplusClient, state: OrderState, publisher: Publisher, *,
                 timeout: tuple[float, float], session: requests.Session, circuits: Circuits = NO_CIRCUITS) -> None:
        self._infoplus = infoplus
        self._circuits = circuits
        self._memory = state
        self._publisher = publisher
        self._timeout = timeout
        self._session = session

    def __call__(self, connection: Connection, envelope: Envelope) -> Outcome:
        status = KINDS.get((envelope.payload or {}).get("kind"))
        if status is None:
            raise InvalidEvent(f"fulfillment order notification of unknown kind {envelope.payload!r}")
        if not connection.fulfillment_service or not connection.location_id:
            raise InvalidEvent(f"connection {connection.id} is not a fulfillment service connection with a "
                               f"location_id (run cartbridge-shopify-fulfillment-service)")
        service = ShopifyFulfillmentService(connection, timeout=self._timeout, session=self._session)
        by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with self._circuits.calling(connection.id):  # the first read: a failing store parks its own requests
            assigned = service.assigned(status)
        for fo in assigned:
            by_order[(fo.get("order") or {}).get("legacyResourceId") or _legacy((fo.get("order") or {}).get("id"))
                     ].append(fo)
        if status == FULFILLMENT_REQUESTED:
            return self._fulfil(connection, service, by_order)
        return self._cancel(connection, service, by_order)

    # -- fulfillment requests --------------------------------------------------------------------------------
    def _fulfil(self, connection: Connection, service: ShopifyFulfillmentService,
                by_order: dict[str, list[dict]]) -> Outcome:
        accepted, refused = [], []
        for order_id, fos in by_order.items():
            key: OrderKey = (connection.id, f"fs:{order_id}")
            try:
                number = self._ensure_created(connection, key, fos)
            except Permanent as error:  # refused by Infoplus, or never sendable: tell the merchant, then ops
                for fo in fos:
                    self._answer(service, key, "fulfillment", fo["id"], False, error.reason)
                refused.append(error)
                continue
            self._announce(connection, key, order_id, fos)
            covered = self._memory.fulfillment_orders(key)
            later = [fo for fo in fos if covered is not None and fo["id"] not in covered]
            if later:  # a later request for an order Infoplus already has: its lines are not in that order
                reason = (f"Infoplus already has order {number} for Shopify order {order_id}, made from an earlier "
                          f"fulfillment request; a later request cannot be added to it automatically: ops must act")
                for fo in later:
                    self._answer(service, key, "fulfillment", fo["id"], False, reason)
                refused.append(Permanent(reason))
            for fo in fos:
                if fo in later:
                    continue
                if self._answer(service, key, "fulfillment", fo["id"], True,
                                f"Infoplus order {number} ({customer_order_no(connection.id, order_id)})"):
                    accepted.append(fo["id"])
        if refused:
            first = refused[0]
            raise Permanent("; ".join(e.reason for e in refused) + " — fulfillment request rejected in Shopify",
                            status=first.status, body=first.body, url=first.url)
        return done(f"fulfillment requests: {len(accepted)} accepted for {len(by_order)} orders")

    def _ensure_created(self, connection: Connection, key: OrderKey, fos: list[dict]) -> Any:
        """The Infoplus order number for this Shopify order, creating it exactly once."""
        created = self._memory.created(key)
        if created is not None:
            return created.get("orderNo")
        order = cart_order(fos)
        number = customer_order_no(connection.id, order.cart_order_id)
        if self._memory.must_look(key, order.created_at):
            existing = self._infoplus.find_orders(number, connection.lob_id)
            if existing:
                self._memory.record_created(key, parent_order(existing))
                return parent_order(existing).get("orderNo")
        self._memory.known(key)
        problem = _unshippable(order)
        if problem:
            raise Permanent(problem)
        body = build_order(connection, order)
        self._memory.record_fulfillment_orders(key, [fo["id"] for fo in fos])
        self._memory.intend_to_create(key)
        try:
            answer = self._infoplus.create_order(body)
        except (Permanent, Retryable) as error:
            if isinstance(error, Permanent) or error.status == 429:
                self._memory.not_created(key)
            if isinstance(error, Permanent):
                raise Permanent(f"Infoplus refused order {number}: {str(error.body)[:400]}", status=error.status,
                                body=error.body, url=error.url) from error
            raise
        self._memory.record_created(key, {**body, "orderNo": answer.get("orderNo")})
        return answer.get("orderNo")

    def _announce(self, connection: Connection, key: OrderKey, order_id: str, fos: list[dict]) -> None:
        """Publish CREATED_EVENT to the order's partition once (a repeat after a crash is harmless there)."""
        if self._memory.announced(key):
            return
        created = self._memory.created(key)
        envelope = make_envelope(event_type=CREATED_EVENT, source="cartbridge", connection_id=connection.id,
                                 dedupe_key=f"fulfillment-service-created:{order_id}:{created.get('orderNo')}",
                                 payload={"order_id": order_id, "created": created, "lines": lines_at_creation(fos)})
        self._publisher.publish(topics.CART_ORDERS, f"{connection.id}:{order_id}", envelope)
        self._memory.record_announced(key)

    def record_creation(self, connection: Connection, envelope: Envelope) -> Outcome:
        """CREATED_EVENT, on the order's partition: remember what Infoplus got, for the order's later webhooks."""
        payload = envelope.payload
        if not payload.get("order_id") or not isinstance(payload.get("created"), dict) or not isinstance(
                payload.get("lines"), dict):
            raise InvalidEvent(f"{CREATED_EVENT} without order_id, created and lines")
        key: OrderKey = (connection.id, str(payload["order_id"]))
        self._memory.record_created_by_service(key, payload["created"], payload["lines"])
        return done(f"order {payload['order_id']} is Infoplus order {payload['created'].get('orderNo')}, made from "
                    f"a fulfillment request: later versions of the order compare its {len(payload['lines'])} lines")

    # -- cancellation requests -------------------------------------------------------------------------------
    def _cancel(self, connection: Connection, service: ShopifyFulfillmentService,
                by_order: dict[str, list[dict]]) -> Outcome:
        answered, for_ops = 0, []
        for order_id, fos in by_order.items():
            key: OrderKey = (connection.id, f"fs:{order_id}")
            number = customer_order_no(connection.id, order_id)
            created = self._memory.created(key)
            found = self._infoplus.find_orders(number, connection.lob_id) if created or self._memory.must_look(
                key, (fos[0].get("order") or {}).get("createdAt") or "1970-01-01T00:00:00+00:00") else []
            for fo in fos:
                if not found:
                    answered += self._answer(service, key, "cancellation", fo["id"], True,
                                             f"Infoplus never received order {number}")
                elif is_cancelled(parent_order(found)):
                    answered += self._answer(service, key, "cancellation", fo["id"], True,
                                             f"Infoplus order {parent_order(found).get('orderNo')} is cancelled")
                elif self._memory.reported_by(key, _cancellation_mark(fo)) is None:
                    for_ops.append((key, fo, parent_order(found), number))
        if for_ops:
            for key, fo, _, _ in for_ops:
                self._memory.reported(key, None, _cancellation_mark(fo), "reported")
            key, fo, parent, number = for_ops[0]
            raise OpsMustAct(
                f"ops must act: Shopify asks to cancel fulfillment of {number} (Infoplus order "
                f"{parent.get('orderNo')}, status {parent.get('status')}); Infoplus has no safe automatic cancel: "
                f"cancel it in Infoplus if it has not shipped, then answer with cartbridge-shopify-fulfillment-"
                f"service --connection {connection.id} --accept-cancellation {fo['id']} (or --reject-cancellation "
                f"{fo['id']} --message <reason>)",
                action="cancel_in_infoplus", infoplus_order_no=parent.get("orderNo"),
                infoplus_status=parent.get("status"), customer_order_no=number,
                fulfillment_order_ids=[f["id"] for _, f, _, _ in for_ops])
        return done(f"cancellation requests: {answered} accepted")

    # -- answers ---------------------------------------------------------------------------------------------
    def _answer(self, service: ShopifyFulfillmentService, key: OrderKey, request: str, fo_id: str, accept: bool,
                message: str) -> bool:
        """Send one answer unless the store says it was sent; record it after. True when sent now. A rejection is
        sent whenever the request is listed: the merchant may request again after fixing what was refused.

        Shopify failing the answer parks the event for this connection (consumers/circuits.py): when it comes
        due, the Infoplus order is found in the state store (`_ensure_created`), so only the answer is sent."""
        mark = f"{request}:{'accept' if accept else 'reject'}:{fo_id}"
        if accept and self._memory.reported_by(key, mark) is not None:
            return False
        with self._circuits.calling(key[0]):  # a failing store parks its own request: the order made stays made
            errors = service.answer(request, fo_id, accept, message)
        if errors:  # e.g. answered in a run that stopped before recording it: Shopify's state is the truth
            log.warning("Shopify refused %s of %s: %s", mark, fo_id, errors)
        self._memory.reported(key, None, mark, "sent")
        return not errors
