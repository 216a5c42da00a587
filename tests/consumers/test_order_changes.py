"""Changes after an order reached Infoplus (cancelled or edited in the cart): Infoplus has no safe automatic
way to apply them, so each becomes a record on `cart.orders.dlq` telling ops what to do — never dropped, never
applied by deleting the warehouse order. Changes that do not matter to the warehouse produce nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sandbox.sample import shopify_order, woocommerce_order
from sandbox.woocommerce import wc_date
from tests.support.cart_orders import (BC_ID, WOO_ID, barrier, bc, dead_letters, infoplus_orders,  # noqa: F401
                                       post_bc, post_woo, skips, wait_for_order, woo)

SHOPIFY_ID = 101


def later(timestamp: str, minutes: int = 1) -> str:
    """A Shopify `updated_at` some minutes after `timestamp`, in the shop's offset."""
    moment = datetime.fromisoformat(timestamp) + timedelta(minutes=minutes)
    return moment.isoformat(timespec="seconds")


def woo_at(minutes_ago: int) -> str:
    return wc_date(datetime.now(timezone.utc) - timedelta(minutes=minutes_ago))


def woo_barrier(world, order_id: int) -> None:
    barrier(world, order_id, lambda: post_woo(world, woocommerce_order(order_id, date_modified=woo_at(600)),
                                              topic="order.updated"))


def shopify_barrier(world, order: dict) -> None:
    stale = {**order, "updated_at": later(order["updated_at"], minutes=-600)}
    barrier(world, order["id"], lambda: world.post_shopify_order(stale, topic="orders/updated"))


def assert_ops_record(dead: dict, action: str, infoplus_order: dict) -> None:
    assert dead["reason"].startswith("ops must act")
    assert dead["error"]["action"] == action
    assert dead["error"]["infoplus_order_no"] == infoplus_order["orderNo"]
    assert dead["error"]["infoplus_status"] == infoplus_order["status"]


# -- cancellations -----------------------------------------------------------------------------------------
def test_shopify_cancellation_after_creation_goes_to_ops_and_the_warehouse_order_is_left_alone(world):
    world.start_consumer("orders")
    order = shopify_order(order_id=3001)
    world.post_shopify_order(order)
    held = wait_for_order(world, SHOPIFY_ID, 3001)

    stamp = later(order["updated_at"])
    world.post_shopify_order({**order, "cancelled_at": stamp, "updated_at": stamp, "cancel_reason": "customer"},
                             topic="orders/cancelled")

    [dead] = dead_letters(world, 3001)
    assert_ops_record(dead, "cancel_in_infoplus", held)
    assert "cancelled in the cart" in dead["reason"] and dead["error"]["customer_order_no"] == "101-3001"
    assert world.infoplus.count("DELETE") == 0 and world.infoplus.count("PUT") == 0
    assert infoplus_orders(world, SHOPIFY_ID, 3001) == [held]


def test_woocommerce_cancellation_goes_to_ops_once_even_when_the_cancelled_order_changes_again(world, woo):
    world.start_consumer("orders")
    post_woo(world, woocommerce_order(order_id=3002, date_modified=woo_at(5)))
    held = wait_for_order(world, WOO_ID, 3002)

    post_woo(world, woocommerce_order(order_id=3002, status="cancelled", date_modified=woo_at(3)),
             topic="order.updated")
    [dead] = dead_letters(world, 3002)
    assert_ops_record(dead, "cancel_in_infoplus", held)
    assert dead["error"]["cart_status"] == "cancelled"

    # A note added to the cancelled order: a newer version, the same cancellation — not a second ticket.
    post_woo(world, woocommerce_order(order_id=3002, status="cancelled", date_modified=woo_at(1),
                                      customer_note="sorry"), topic="order.updated")
    woo_barrier(world, 3002)
    assert len(dead_letters(world, 3002, expect=0)) == 1


def test_bigcommerce_status_cancelled_after_creation_goes_to_ops(world, bc):
    bc.add_order(order_id=3003)
    world.start_consumer("orders")
    post_bc(world, 3003)
    held = wait_for_order(world, BC_ID, 3003)

    bc.set_order_status(3003, 5)  # possibly within the same second: the version alone must not hide it
    post_bc(world, 3003, scope="store/order/statusUpdated", previous_status_id=11, new_status_id=5)

    [dead] = dead_letters(world, 3003)
    assert_ops_record(dead, "cancel_in_infoplus", held)
    assert dead["error"]["cart_status"] == "5 Cancelled"


def test_cancellation_of_an_order_already_cancelled_in_infoplus_needs_nobody(world, woo):
    world.start_consumer("orders")
    post_woo(world, woocommerce_order(order_id=3004, date_modified=woo_at(5)))
    held = wait_for_order(world, WOO_ID, 3004)
    world.infoplus.update_order(held["orderNo"], status="Canceled")

    post_woo(world, woocommerce_order(order_id=3004, status="cancelled", date_modified=woo_at(1)),
             topic="order.updated")

    woo_barrier(world, 3004)
    assert dead_letters(world, 3004, expect=0) == []


def test_cancellation_before_reaching_infoplus_is_skipped_and_never_created(world, woo):
    world.start_consumer("orders")

    post_woo(world, woocommerce_order(order_id=3005, status="cancelled"))

    [skip] = skips(world, 3005)
    assert "cancelled in the cart before it reached Infoplus" in skip["reason"]
    assert infoplus_orders(world, WOO_ID, 3005) == []


# -- edits -------------------------------------------------------------------------------------------------
def test_woocommerce_lines_edited_after_creation_go_to_ops_with_the_difference(world, woo):
    world.start_consumer("orders")
    post_woo(world, woocommerce_order(order_id=3006, skus=["SKU-1", "SKU-2"], date_modified=woo_at(5)))
    held = wait_for_order(world, WOO_ID, 3006)

    edited = woocommerce_order(order_id=3006, skus=["SKU-1"], quantity=3, date_modified=woo_at(1))
    post_woo(world, edited, topic="order.updated")

    [dead] = dead_letters(world, 3006)
    assert_ops_record(dead, "apply_edit_in_infoplus", held)
    assert dead["error"]["changes"]["lines"] == {"cart": {"SKU-1": 3}, "infoplus": {"SKU-1": 1, "SKU-2": 1}}


def test_shopify_address_edited_after_creation_goes_to_ops(world):
    world.start_consumer("orders")
    order = shopify_order(order_id=3007)
    world.post_shopify_order(order)
    held = wait_for_order(world, SHOPIFY_ID, 3007)

    moved = {**order["shipping_address"], "address1": "1 New Street", "zip": "40203"}
    world.post_shopify_order({**order, "shipping_address": moved, "updated_at": later(order["updated_at"])},
                             topic="orders/updated")

    [dead] = dead_letters(world, 3007)
    assert_ops_record(dead, "apply_edit_in_infoplus", held)
    assert dead["error"]["changes"]["ship_to"] == {
        "shipToStreet": {"cart": "1 New Street", "infoplus": order["shipping_address"]["address1"]},
        "shipToZip": {"cart": "40203", "infoplus": order["shipping_address"]["zip"]}}


def test_updates_that_do_not_touch_lines_or_address_need_nobody(world, woo):
    world.start_consumer("orders")
    order = shopify_order(order_id=3008)
    world.post_shopify_order(order)
    post_woo(world, woocommerce_order(order_id=3009, date_modified=woo_at(5)))
    wait_for_order(world, SHOPIFY_ID, 3008)
    wait_for_order(world, WOO_ID, 3009)

    world.post_shopify_order({**order, "tags": "vip", "updated_at": later(order["updated_at"])},
                             topic="orders/updated")
    post_woo(world, woocommerce_order(order_id=3009, status="completed", date_modified=woo_at(1)),
             topic="order.updated")

    shopify_barrier(world, order)
    woo_barrier(world, 3009)
    assert dead_letters(world, 3008, expect=0) == [] and dead_letters(world, 3009, expect=0) == []
    assert len(world.infoplus.orders) == 2


def test_backorder_children_count_toward_the_lines_infoplus_holds(world, woo):
    # Infoplus split the order: 1 of SKU-1 on the parent, the other on backorder child .001.
    parent = world.infoplus.add_order({"customerOrderNo": "202-3010", "lobId": 10000, "status": "Processed",
                                       "lineItems": [{"sku": "SKU-1", "orderedQty": 1}],
                                       "shipToCompany": "Jane Doe", "shipToAttention": "", "shipToStreet": "969 Market",
                                       "shipToStreet2": "Suite 4", "shipToCity": "San Francisco", "shipToState": "CA",
                                       "shipToZip": "94103", "shipToCountry": "US"})
    world.infoplus.add_order({"orderNo": parent["orderNo"] + 0.001, "customerOrderNo": "202-3010",
                              "lobId": 10000, "lineItems": [{"sku": "SKU-1", "orderedQty": 1}]})
    world.start_consumer("orders")

    post_woo(world, woocommerce_order(order_id=3010, skus=["SKU-1"], quantity=2), topic="order.updated")

    woo_barrier(world, 3010)
    assert dead_letters(world, 3010, expect=0) == []
    assert len(infoplus_orders(world, WOO_ID, 3010)) == 2  # nothing created, nothing removed
