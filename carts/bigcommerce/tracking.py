"""BigCommerce tracking: `POST v2/orders/{id}/shipments` (reference/cart-apis.md §3.3).

A BigCommerce shipment holds the shipped items (`order_product_id`, `quantity`) for one `order_address_id` and
one `tracking_number`; BigCommerce emails the shopper and moves the order to Shipped / Partially Shipped.
Rules:
- look before writing: the order's shipments (their tracking numbers and comments) and its products'
  `quantity_shipped` are read first; a number already there is not sent again, units already shipped are not
  shipped again;
- what shipped is grouped by `order_address_id` (one shipment per address);
- several cartons: a shipment has room for one tracking number, so the first carton's number goes in
  `tracking_number` and every carton's number (with its carrier) is listed in `comments`;
- a later carton whose goods are already shipped is appended to the comments of the latest shipment
  (`PUT v2/orders/{id}/shipments/{shipment id}`), as a shipment cannot be created without items.
"""
from __future__ import annotations

from typing import Any

import requests

from carts.bigcommerce.api import BigCommerceAPI
from carts.tracking import Parcel, PlannedWrite, TrackingPlan, TrackingUpdate, add_up, allocate, mentions, numbers_of
from outbound.errors import Permanent
from schemas.connection import Connection


def comments(update: TrackingUpdate, parcels: list[Parcel]) -> str:
    cartons = "; ".join(f"{p.carrier.infoplus_name} {p.tracking_no}" for p in parcels)
    return f"Shipped from Infoplus order {update.infoplus_order_no}. Tracking: {cartons}"


def shipment_body(address_id: int, items: list[dict[str, int]], parcels: list[Parcel], note: str) -> dict:
    carrier = parcels[0].carrier
    return {"order_address_id": address_id, "tracking_number": parcels[0].tracking_no,
            "shipping_provider": carrier.bigcommerce_provider, "tracking_carrier": carrier.bigcommerce_carrier,
            "comments": note, "items": items}


def by_address(picked: list[tuple[dict[str, Any], int]]) -> dict[int, list[dict[str, int]]]:
    groups: dict[int, list[dict[str, int]]] = {}
    for product, quantity in picked:
        groups.setdefault(product["order_address_id"], []).append(
            {"order_product_id": product["id"], "quantity": quantity})
    return groups


def _open(product: dict[str, Any]) -> int:
    return int(product.get("quantity") or 0) - int(product.get("quantity_shipped") or 0)


class BigCommerceTracking:
    """TrackingWriter for one BigCommerce connection."""

    def __init__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> None:
        self._api = BigCommerceAPI(connection, timeout=timeout, session=session)

    def write(self, update: TrackingUpdate) -> str:
        return self.plan(update).run()

    def plan(self, update: TrackingUpdate) -> TrackingPlan:
        order_id = update.cart_order_id
        products = self._api.get(f"v2/orders/{order_id}/products")
        if not products:
            raise Permanent(f"BigCommerce order {order_id} not found (or has no products)", status=404)
        shipments = self._api.get(f"v2/orders/{order_id}/shipments") or []
        fulfilled = add_up((p.get("sku"), p.get("quantity_shipped")) for p in products)
        now = {"order": order_id, "tracking_numbers": self._numbers(shipments, update), "fulfilled": fulfilled}
        missing = update.missing(self._numbers(shipments, update))
        if not missing:
            return TrackingPlan(now, note=f"BigCommerce order {order_id} already shows its tracking")
        open_lines = [(p, p.get("sku"), _open(p)) for p in products if _open(p) > 0]
        picked = allocate(update.to_fulfil(fulfilled), open_lines)
        if picked:
            items = add_up((product.get("sku"), quantity) for product, quantity in picked)
            groups = by_address(picked)
            return TrackingPlan(now, (PlannedWrite(
                "shipment", f"{len(groups)} shipment(s) on order {order_id}: "
                            + ", ".join(f"{q} × {sku}" for sku, q in sorted(items.items()))
                            + f", tracking {missing[0].tracking_no}", numbers_of(missing), items,
                "BigCommerce shipment email (if the store's order notifications send it)",
                perform=lambda: self._create(update, groups, missing)),))
        if shipments:
            return TrackingPlan(now, (PlannedWrite(
                "shipment_comment", f"adds {', '.join(numbers_of(missing))} to the latest shipment's comments "
                                    f"of order {order_id}", numbers_of(missing),
                perform=lambda: self._append(update, shipments, missing)),))
        raise Permanent(f"nothing Infoplus order {update.infoplus_order_no} shipped ({dict(update.shipped)}) is "
                        f"left to ship in BigCommerce order {order_id}, which has no shipment to add tracking to")

    @staticmethod
    def _numbers(shipments: list[dict[str, Any]], update: TrackingUpdate) -> list[str]:
        """Tracking numbers the order shows: each shipment's own, and those listed in its comments."""
        own = [s.get("tracking_number") or "" for s in shipments]
        text = "\n".join(s.get("comments") or "" for s in shipments)
        return own + [p.tracking_no for p in update.parcels if mentions(text, p.tracking_no)]

    def _create(self, update: TrackingUpdate, groups: dict[int, list[dict[str, int]]],
                parcels: list[Parcel]) -> str:
        note = comments(update, parcels)
        created = []
        for address_id, items in groups.items():
            body = shipment_body(address_id, items, parcels, note)
            answer = self._send("POST", f"v2/orders/{update.cart_order_id}/shipments", body)
            created.append(str(answer.get("id")))
        numbers = ", ".join(parcel.tracking_no for parcel in parcels)
        return f"created shipment(s) {', '.join(created)} on BigCommerce order {update.cart_order_id} with {numbers}"

    def _append(self, update: TrackingUpdate, shipments: list[dict[str, Any]], parcels: list[Parcel]) -> str:
        latest = max(shipments, key=lambda s: int(s.get("id") or 0))
        note = "\n".join(filter(None, [latest.get("comments"), comments(update, parcels)]))
        path = f"v2/orders/{update.cart_order_id}/shipments/{latest['id']}"
        self._send("PUT", path, {"comments": note})
        numbers = ", ".join(parcel.tracking_no for parcel in parcels)
        return f"added {numbers} to BigCommerce shipment {latest['id']} of order {update.cart_order_id}"

    def _send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._api.request(method, path, json=body)
        if response.status_code == 404:  # the order (or shipment) went away between the read and the write
            raise Permanent(f"{method} {response.url} answered 404", status=404, url=response.url)
        return response.json()
