"""The order rules without a broker: each platform's paid / cancelled rule, versions, what counts as a change
after creation."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError

from infoplus.orders import build_order, differences, differences_in_lines_sent, recorded_version
from sandbox.bigcommerce import BigCommerceStandIn
from sandbox.sample import shopify_order, woocommerce_order
from schemas.bigcommerce import BigCommerceOrderSchema
from schemas.connection import Connection
from schemas.order import CartOrderSchema
from schemas.shopify import ShopifyOrderSchema
from schemas.woocommerce import WooOrderSchema

CONNECTION = Connection(id=202, name="Woo", platform="woocommerce", lob_id=10000, order_source_id=56,
                        warehouse_id=1000, default_carrier_id=1, webhook_secret="s")


@pytest.mark.parametrize("status, date_paid, paid, cancelled", [
    ("processing", None, True, False),
    ("completed", None, True, False),
    ("on-hold", "2026-01-01T10:00:00", True, False),  # the gateway recorded a payment
    ("on-hold", None, False, False),  # awaiting a bank transfer
    ("pending", None, False, False),
    ("failed", None, False, False),
    ("cancelled", "2026-01-01T10:00:00", False, True),
    ("refunded", "2026-01-01T10:00:00", False, True),
])
def test_woocommerce_paid_rule(status, date_paid, paid, cancelled):
    payload = woocommerce_order(order_id=1, status=status)
    payload.update(date_paid=date_paid, date_paid_gmt=date_paid)

    order = WooOrderSchema().load(payload)

    assert (order.paid, order.cancelled, order.cart_status) == (paid, cancelled, status)


def _bigcommerce_order(status_id: int, **changes) -> dict:
    with BigCommerceStandIn() as store:  # the stand-in's v2 shapes, read without HTTP
        order = store.add_order(order_id=5, status_id=status_id)
        return {**order, "products": store.order_products(5), "shipping_addresses": store.shipping_addresses(5),
                **changes}


@pytest.mark.parametrize("status_id, paid, cancelled", [
    (11, True, False), (9, True, False), (2, True, False), (10, True, False),
    (0, False, False), (1, False, False), (7, False, False), (12, False, False),
    (5, False, True), (4, False, True),
])
def test_bigcommerce_paid_rule(status_id, paid, cancelled):
    order = BigCommerceOrderSchema().load(_bigcommerce_order(status_id))
    assert (order.paid, order.cancelled) == (paid, cancelled)


def test_bigcommerce_order_with_several_ship_to_addresses_is_refused_with_a_reason():
    payload = _bigcommerce_order(11)
    payload["shipping_addresses"] = payload["shipping_addresses"] * 2

    with pytest.raises(ValidationError) as refused:
        BigCommerceOrderSchema().load(payload)
    assert "several addresses" in str(refused.value.messages)


def test_versions_compare_as_times_across_offsets():
    shopify = CartOrderSchema().load({**_normalized(), "updated_at": "2026-01-01T05:00:00-05:00"})
    woo = WooOrderSchema().load(woocommerce_order(order_id=1, date_modified="2026-01-01T09:59:59"))
    assert woo.version() < shopify.version()


def test_the_version_travels_with_the_infoplus_order():
    order = WooOrderSchema().load(woocommerce_order(order_id=1, date_modified="2026-01-01T09:59:59"))
    assert recorded_version(build_order(CONNECTION, order)) == datetime(2026, 1, 1, 9, 59, 59, tzinfo=timezone.utc)
    assert recorded_version({"orderNo": 1000.0}) is None


def test_differences_ignore_case_blanks_and_backorder_splits():
    order = WooOrderSchema().load(woocommerce_order(order_id=1, skus=["SKU-1"], quantity=3))
    sent = build_order(CONNECTION, order)
    parent = {**sent, "orderNo": 1000.0, "shipToCity": sent["shipToCity"].upper() + " ",
              "lineItems": [{"sku": "SKU-1", "orderedQty": 1}]}
    child = {"orderNo": 1000.001, "lineItems": [{"sku": "SKU-1", "orderedQty": 2.0}]}

    assert differences(CONNECTION, order, [child, parent]) == {}
    assert differences(CONNECTION, order, [parent])["lines"] == {"cart": {"SKU-1": 3}, "infoplus": {"SKU-1": 1}}


def _normalized() -> dict:
    return {"cart_order_id": "1", "name": "#1", "created_at": "2026-01-01T00:00:00+00:00",
            "updated_at": "2026-01-01T00:00:00+00:00", "paid": True, "cancelled": False,
            "lines": [{"cart_line_id": "1", "sku": "S", "quantity": 1, "unit_price": 1.0}]}


def test_shopify_lines_are_what_is_left_after_order_edits():
    payload = shopify_order(order_id=5, skus=["KEPT", "FEWER", "REMOVED"], quantity=3)
    payload["line_items"][1]["current_quantity"] = 1
    payload["line_items"][2]["current_quantity"] = 0
    del payload["line_items"][0]["current_quantity"]  # older API versions send no current_quantity

    order = ShopifyOrderSchema().load(payload)

    assert [(line.sku, line.quantity) for line in order.lines] == [("KEPT", 3), ("FEWER", 1)]


def test_a_fulfillment_service_order_compares_only_the_lines_infoplus_got():
    shopify = Connection(id=101, name="Shop", platform="shopify", lob_id=10000, order_source_id=55,
                         warehouse_id=1000, default_carrier_id=1, webhook_secret="s")
    payload = shopify_order(order_id=6, skus=["OURS", "THEIRS", "GONE"], quantity=2)
    order = ShopifyOrderSchema().load(payload)
    sent = build_order(shopify, order)
    ours, gone = payload["line_items"][0]["id"], payload["line_items"][2]["id"]
    at_creation = {str(ours): 2, str(gone): 2}
    assert differences_in_lines_sent(shopify, order, sent, at_creation) == {}

    payload["line_items"][1]["current_quantity"] = 1  # not ours: not compared
    payload["line_items"][2]["current_quantity"] = 0
    payload["shipping_address"]["zip"] = "40203"
    changed = differences_in_lines_sent(shopify, ShopifyOrderSchema().load(payload), sent, at_creation)

    assert changed == {"lines": {str(gone): {"sku": "GONE", "cart": 0, "at_creation": 2}},
                       "ship_to": {"shipToZip": {"cart": "40203", "infoplus": "40202"}}}
