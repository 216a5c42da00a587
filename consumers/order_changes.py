"""A cart order that changed after it reached Infoplus: cancelled, or edited (lines, ship-to).

Infoplus offers no safe automatic way to apply either (reference/infoplus-api.md §3): there is no cancel
endpoint; `DELETE order/{id}` removes the record even while the warehouse may be picking it; `PUT order`
replaces the whole order and `order/editLineItems` changes lines regardless of how far fulfillment got. So the
change is recorded on `cart.orders.dlq` with a reason telling ops what to do (OpsMustAct), never dropped.
An Infoplus order already cancelled needs nothing; an update older than the version Infoplus was created from
(infoplus.orders.VERSION_DATA) is stale and ignored. The same version is still compared: carts stamp versions
to the second, so a change within the creation's second must not pass for a repeat.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from consumers.order_state import OrderKey, OrderState
from consumers.outcomes import InvalidEvent, Outcome, done, skipped
from infoplus.orders import (customer_order_no, differences, differences_in_lines_sent, is_cancelled, parent_order,
                             recorded_version)
from schemas.connection import Connection
from schemas.order import CartOrder


class OpsMustAct(InvalidEvent):
    """A change cartbridge must not apply on its own: dead-lettered with a reason addressed to ops."""


class OrderChanges:
    def __init__(self, memory: OrderState) -> None:
        self._memory = memory

    def known_creation(self, connection: Connection, order: CartOrder, created: dict[str, Any], event_id: str,
                       lookup: Callable[[], list[dict]]) -> Outcome:
        """An order the state store saw created: decided from what was sent, with no Infoplus call — unless there
        is a change to report, whose message needs Infoplus's current status (then one search)."""
        number = created.get("orderNo")
        created_from = recorded_version(created)
        if created_from is not None and order.version() < created_from:
            return skipped(f"stale: order {order.name} version {order.updated_at} is older than the version "
                           f"Infoplus order {number} was created from ({created_from.isoformat()})", "stale")
        key: OrderKey = (connection.id, order.cart_order_id)
        lines_at_creation = self._memory.service_lines(key)  # only some lines went to Infoplus (fulfillment service)
        change = _change_since_creation(connection, order, created, lines_at_creation)
        if not change:
            return done(f"order {order.name} already in Infoplus as {number}, unchanged")
        fingerprint = "sent:" + json.dumps(change, sort_keys=True)
        earlier = self._memory.reported_by(key, fingerprint)
        if earlier is not None and earlier != event_id:
            return done(f"order {order.name}: this change was already handled by event {earlier}")
        self._memory.reported(key, order.version(), fingerprint, event_id)
        existing = lookup()
        if not existing:
            raise InvalidEvent(f"order {order.name} was created in Infoplus as order {number}, but Infoplus no "
                               f"longer has it: ops must decide what to do with the change", changes=change)
        if lines_at_creation is not None:  # Infoplus holds only our lines: compare with what was sent, not with it
            if is_cancelled(parent_order(existing)):
                return done(f"Infoplus order {number} is cancelled; nothing to forward for {order.name}")
            return self._report(connection, order, parent_order(existing), event_id, change=change)
        return self.after_creation(connection, order, existing, event_id)

    def after_creation(self, connection: Connection, order: CartOrder, infoplus_orders: list[dict],
                       event_id: str) -> Outcome:
        """Decide what one cart event means for an order Infoplus already has."""
        parent = parent_order(infoplus_orders)
        number = parent.get("orderNo")
        created_from = recorded_version(parent)
        if created_from is not None and order.version() < created_from:
            return skipped(f"stale: order {order.name} version {order.updated_at} is older than the version "
                           f"Infoplus order {number} was created from ({created_from.isoformat()})", "stale")
        if is_cancelled(parent):
            return done(f"Infoplus order {number} is cancelled; nothing to forward for {order.name}")
        if order.cancelled:
            return self._report(connection, order, parent, event_id, change={"cancelled": order.cart_status})
        changed = differences(connection, order, infoplus_orders)
        if changed:
            return self._report(connection, order, parent, event_id, change=changed)
        return done(f"order {order.name} already in Infoplus as {number}, unchanged")

    def _report(self, connection: Connection, order: CartOrder, parent: dict, event_id: str,
                change: dict[str, Any]) -> Outcome:
        key: OrderKey = (connection.id, order.cart_order_id)
        fingerprint = json.dumps(change, sort_keys=True)
        earlier = self._memory.reported_by(key, fingerprint)
        if earlier is not None and earlier != event_id:  # the same change again, e.g. a later unrelated edit
            return done(f"order {order.name}: this change was already sent to ops by event {earlier}")
        self._memory.reported(key, order.version(), fingerprint, event_id)
        raise _ops_must_act(connection, order, parent, change)


def _change_since_creation(connection: Connection, order: CartOrder, created: dict[str, Any],
                           lines_at_creation: dict[str, int] | None) -> dict[str, Any]:
    if order.cancelled:
        return {"cancelled": order.cart_status}
    if lines_at_creation is None:
        return differences(connection, order, [created])
    return differences_in_lines_sent(connection, order, created, lines_at_creation)


def _ops_must_act(connection: Connection, order: CartOrder, parent: dict, change: dict[str, Any]) -> OpsMustAct:
    number, status = parent.get("orderNo"), parent.get("status")
    if "cancelled" in change:
        action = "cancel_in_infoplus"
        reason = (f"ops must act: order {order.name} was cancelled in the cart (status {order.cart_status}) after "
                  f"it reached Infoplus as order {number} (status {status}); Infoplus has no safe automatic "
                  f"cancel, so cancel it in Infoplus by hand (or stop/return the shipment if it already left)")
        if connection.fulfillment_service:  # the same cancellation, seen from the fulfillment orders' side
            reason += ("; Shopify also sends the fulfillment service a cancellation request for accepted "
                       "fulfillment orders: answer it with cartbridge-shopify-fulfillment-service once done")
    else:
        action = "apply_edit_in_infoplus"
        reason = (f"ops must act: order {order.name} was edited in the cart ({', '.join(sorted(change))}) after "
                  f"it reached Infoplus as order {number} (status {status}); Infoplus has no safe automatic "
                  f"edit, so apply the change in Infoplus by hand if it has not shipped")
    return OpsMustAct(reason, action=action, infoplus_order_no=number, infoplus_status=status,
                      customer_order_no=customer_order_no(connection.id, order.cart_order_id),
                      cart_order=order.name, cart_status=order.cart_status, cart_version=order.updated_at,
                      changes=change)
