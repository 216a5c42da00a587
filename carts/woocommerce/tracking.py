"""WooCommerce tracking (reference/cart-apis.md §2.3). Core WooCommerce has no fulfillments, so:

- with the Shipment Tracking extension (connection option `woocommerce_shipment_tracking: true`), each carton
  becomes one tracking item (`POST /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings`);
- without it, one order note lists the new cartons and what shipped — a customer note (WooCommerce emails it)
  when `notify_customer` is on, a private note otherwise;
- then, once every SKU of the order has shipped (backorders included), the order is set to `completed`
  (WooCommerce's "order complete" email) — only from `processing` or `on-hold`, never over a cancellation.

Look before writing: the order's existing tracking items (or notes) are read first and a number already
there is not added again; the status is changed only when it is not `completed` yet.
"""
from __future__ import annotations

from typing import Any

import requests

from carts.tracking import (Parcel, PlannedWrite, TrackingPlan, TrackingUpdate, add_up, mentions, numbers_of,
                            shipped_summary)
from carts.woocommerce.api import SHIPMENT_TRACKING, WooCommerceAPI
from outbound.errors import Permanent
from schemas.connection import Connection

COMPLETABLE = frozenset({"processing", "on-hold"})


def tracking_item(parcel: Parcel) -> dict[str, Any]:
    """One Shipment Tracking item; a carrier the extension does not list goes in as a custom provider."""
    item = {"tracking_number": parcel.tracking_no, "date_shipped": parcel.day}
    if parcel.carrier.woocommerce:
        return {**item, "tracking_provider": parcel.carrier.woocommerce}
    return {**item, "custom_tracking_provider": parcel.carrier.infoplus_name,
            **({"custom_tracking_link": parcel.url} if parcel.url else {})}


def note_text(update: TrackingUpdate, parcels: list[Parcel]) -> str:
    lines = [f"{p.carrier.infoplus_name} tracking number {p.tracking_no}" + (f": {p.url}" if p.url else "")
             for p in parcels]
    shipped = shipped_summary(update)
    return "Your order has shipped.\n" + "\n".join(lines) + (f"\nShipped: {shipped}" if shipped else "")


class WooCommerceTracking:
    """TrackingWriter for one WooCommerce connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._api = WooCommerceAPI(connection, timeout=timeout, session=session)
        self._extension = connection.woocommerce_shipment_tracking

    def write(self, update: TrackingUpdate) -> str:
        return self.plan(update).run()

    def plan(self, update: TrackingUpdate) -> TrackingPlan:
        order_id = update.cart_order_id
        order = self._api.get(f"orders/{order_id}")
        if order is None:
            raise Permanent(f"WooCommerce order {order_id} not found (deleted, or the connection points at "
                            f"another store)", status=404)
        shown = self._shown_numbers(order_id, update)
        missing = update.missing(shown)
        writes = self._tracking_writes(order_id, update, missing) + self._completion(order, update)
        now = {"order": order_id, "tracking_numbers": shown, "status": order.get("status")}
        return TrackingPlan(now, tuple(writes), note=f"WooCommerce order {order_id} already shows its tracking")

    def _shown_numbers(self, order_id: str, update: TrackingUpdate) -> list[str]:
        if self._extension:
            return [item.get("tracking_number", "") for item in self._trackings(order_id)]
        return self._numbers_in_notes(order_id, update)

    def _tracking_writes(self, order_id: str, update: TrackingUpdate, missing: list[Parcel]) -> list[PlannedWrite]:
        if not missing:
            return []
        if self._extension:  # the extension sends no email of its own: its items show in WooCommerce's emails
            return [PlannedWrite("tracking_item", f"Shipment Tracking item {parcel.tracking_no} on order {order_id}",
                                 (parcel.tracking_no,), perform=self._poster(
                                     f"orders/{order_id}/shipment-trackings", tracking_item(parcel),
                                     f"added {parcel.tracking_no} to WooCommerce order {order_id}", SHIPMENT_TRACKING))
                    for parcel in missing]
        note = {"note": note_text(update, missing), "customer_note": update.notify_customer}
        kind = "customer" if update.notify_customer else "private"
        return [PlannedWrite("order_note", f"{kind} note on order {order_id}: {note['note']!r}", numbers_of(missing),
                             dict(update.shipped),
                             "WooCommerce customer note email" if update.notify_customer else None,
                             perform=self._poster(f"orders/{order_id}/notes", note,
                                                  f"added {', '.join(numbers_of(missing))} to WooCommerce order "
                                                  f"{order_id}"))]

    def _poster(self, path: str, body: dict[str, Any], done: str, namespace: str | None = None):
        def post() -> str:
            self._post(path, body, namespace)
            return done
        return post

    def _trackings(self, order_id: str) -> list[dict[str, Any]]:
        response = self._api.request("GET", f"orders/{order_id}/shipment-trackings", namespace=SHIPMENT_TRACKING)
        if response.status_code == 404:
            raise Permanent(f"the connection says WooCommerce Shipment Tracking is installed, but the store "
                            f"answers 404 for it (set woocommerce_shipment_tracking: false, or install it)",
                            status=404, url=response.url)
        return response.json() or []

    def _numbers_in_notes(self, order_id: str, update: TrackingUpdate) -> list[str]:
        notes = self._api.get(f"orders/{order_id}/notes") or []
        text = "\n".join(note.get("note") or "" for note in notes)
        return [parcel.tracking_no for parcel in update.parcels if mentions(text, parcel.tracking_no)]

    def _completion(self, order: dict[str, Any], update: TrackingUpdate) -> list[PlannedWrite]:
        ordered = add_up((line.get("sku"), line.get("quantity")) for line in order.get("line_items") or [])
        if order.get("status") not in COMPLETABLE or not update.everything_shipped(ordered):
            return []

        def complete() -> str:
            self._api.request("PUT", f"orders/{order['id']}", json={"status": "completed"})
            return f"marked WooCommerce order {order['id']} completed"
        return [PlannedWrite("order_completed", f"order {order['id']} {order.get('status')} -> completed",
                             email="WooCommerce completed order email", perform=complete)]

    def _post(self, path: str, body: dict[str, Any], namespace: str | None = None) -> None:
        kwargs = {"namespace": namespace} if namespace else {}
        response = self._api.request("POST", path, json=body, **kwargs)
        if response.status_code == 404:
            raise Permanent(f"POST {response.url} answered 404", status=404, url=response.url)
