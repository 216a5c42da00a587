"""Magento tracking: `POST V1/order/{id}/ship` with items and tracks (docs/magento.md §5).

A Magento shipment holds the shipped items (`order_item_id`, `qty`) and any number of tracks (`track_number`,
`title`, `carrier_code`); with `notify: true` Magento emails the shopper the shipment and its tracking numbers, and
a shipment that ships everything left makes the order `complete`. Rules:
- look before writing: the order (its items' `qty_shipped`) and its shipments (`GET V1/shipments` by `order_id`,
  with their tracks) are read first; a tracking number already on a shipment is not sent again, units already
  shipped are not shipped again — so a redelivered or re-polled shipment makes no second shipment or email;
- partial shipments ship only what shipped (carts.tracking.TrackingUpdate.to_fulfil over the open items, the
  same lines the order became in Infoplus: schemas.magento.shippable_items);
- several cartons: one shipment with one track per carton (one email);
- a later carton whose goods are already shipped becomes a track on the latest shipment (`POST V1/shipment/track`;
  Magento sends no email for it), as a shipment cannot be made without items;
- carriers: Magento's own carrier codes for UPS, USPS, FedEx and DHL Express; any other carrier is `custom`
  with Infoplus's name as the title;
- `notify` is the connection's `notify_customer`.
Preview (`sync_tracking_data: preview`): `plan` makes the same reads and describes the write; `write` runs it.
"""
from __future__ import annotations

from typing import Any

import requests

from carts.magento.api import MagentoAPI
from carts.tracking import Parcel, PlannedWrite, TrackingPlan, TrackingUpdate, add_up, allocate, numbers_of
from outbound.errors import Permanent
from schemas.connection import Connection
from schemas.magento import shippable_items

# carts.carriers' name for a carrier -> Magento's carrier code (its built-in carriers; others are "custom")
CARRIER_CODES = {"UPS": "ups", "USPS": "usps", "FedEx": "fedex", "DHL Express": "dhl"}


def track(parcel: Parcel) -> dict[str, str]:
    code = CARRIER_CODES.get(parcel.carrier.shopify) if parcel.carrier.known else None
    return {"track_number": parcel.tracking_no, "title": parcel.carrier.shopify if code else
            parcel.carrier.infoplus_name, "carrier_code": code or "custom"}


def _open(item: dict[str, Any]) -> int:
    return int(float(item.get("qty_ordered") or 0) - float(item.get("qty_shipped") or 0)
               - float(item.get("qty_canceled") or 0) - float(item.get("qty_refunded") or 0))


class MagentoTracking:
    """TrackingWriter for one Magento connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._api = MagentoAPI(connection, timeout=timeout, session=session)

    def write(self, update: TrackingUpdate) -> str:
        return self.plan(update).run()

    def plan(self, update: TrackingUpdate) -> TrackingPlan:
        order_id = update.cart_order_id
        order = self._api.get(f"orders/{order_id}")
        if order is None:
            raise Permanent(f"Magento order {order_id} not found (deleted, or the connection points at another "
                            f"store)", status=404)
        shipments = list(self._api.search("shipments", [[("order_id", order_id, "eq")]]))
        numbers = [t.get("track_number") or "" for s in shipments for t in s.get("tracks") or []]
        lines = [item for item in shippable_items(order.get("items") or []) if not item.get("is_virtual")]
        fulfilled = add_up((item.get("sku"), int(float(item.get("qty_shipped") or 0))) for item in lines)
        now = {"order": order_id, "tracking_numbers": numbers, "fulfilled": fulfilled, "state": order.get("state")}
        missing = update.missing(numbers)
        if not missing:
            return TrackingPlan(now, note=f"Magento order {order_id} already shows its tracking")
        picked = allocate(update.to_fulfil(fulfilled), [(item, item.get("sku"), _open(item)) for item in lines
                                                        if _open(item) > 0])
        if picked:
            items = add_up((item.get("sku"), qty) for item, qty in picked)
            return TrackingPlan(now, (PlannedWrite(
                "shipment", f"shipment on order {order_id}: " + ", ".join(
                    f"{q} × {sku}" for sku, q in sorted(items.items())) + f", tracks {', '.join(numbers_of(missing))}",
                numbers_of(missing), items, "Magento shipment email" if update.notify_customer else None,
                perform=lambda: self._ship(update, picked, missing)),))
        if shipments:
            latest = max(shipments, key=lambda s: int(s.get("entity_id") or 0))
            return TrackingPlan(now, (PlannedWrite(
                "tracking_added", f"adds {', '.join(numbers_of(missing))} to shipment {latest.get('entity_id')} "
                                  f"of order {order_id}", numbers_of(missing),
                perform=lambda: self._add_tracks(update, latest, missing)),))
        raise Permanent(f"nothing Infoplus order {update.infoplus_order_no} shipped ({dict(update.shipped)}) is "
                        f"left to ship in Magento order {order_id}, which has no shipment to add tracking to")

    def _ship(self, update: TrackingUpdate, picked: list[tuple[dict[str, Any], int]], parcels: list[Parcel]) -> str:
        body = {"items": [{"order_item_id": item["item_id"], "qty": qty} for item, qty in picked],
                "notify": update.notify_customer, "tracks": [track(parcel) for parcel in parcels],
                "comment": {"comment": f"Shipped from Infoplus order {update.infoplus_order_no}",
                            "is_visible_on_front": 0}}
        shipment_id = self._post(f"order/{update.cart_order_id}/ship", body)
        numbers = ", ".join(parcel.tracking_no for parcel in parcels)
        return f"created shipment {shipment_id} on Magento order {update.cart_order_id} with {numbers}"

    def _add_tracks(self, update: TrackingUpdate, shipment: dict[str, Any], parcels: list[Parcel]) -> str:
        for parcel in parcels:
            self._post("shipment/track", {"entity": {"order_id": int(update.cart_order_id),
                                                     "parent_id": shipment["entity_id"], **track(parcel)}})
        numbers = ", ".join(parcel.tracking_no for parcel in parcels)
        return f"added {numbers} to Magento shipment {shipment['entity_id']} of order {update.cart_order_id}"

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self._api.request("POST", path, json=body)
        if response.status_code == 404:  # the order (or shipment) went away between the read and the write
            raise Permanent(f"POST {response.url} answered 404", status=404, url=response.url)
        return response.json()
