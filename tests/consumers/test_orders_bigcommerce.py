"""BigCommerce orders end to end: a thin signed webhook -> a reference on Kafka -> the orders consumer (a real
process) fetches the order, its products and shipping addresses from the store stand-in -> Infoplus stand-in."""
from __future__ import annotations

import time

from sandbox.bigcommerce import bc_address
from tests.support.cart_orders import (BC_ID, bc, dead_letters, infoplus_orders, post_bc, settle, skips,  # noqa: F401
                                       wait_for_order)

ORDER_PATH = r"/v2/orders/\d+$"


def test_signed_order_becomes_one_infoplus_order_with_the_right_lines_and_address(world, bc):
    shipping = {**bc_address("Sam", "Lee", company="Lee & Co"), "street_1": "12 Oak Lane", "city": "Dallas",
                "zip": "75201"}
    bc.add_order(order_id=2001, products=[{"sku": "SKU-1", "quantity": 2, "price": "10.00"},
                                          {"sku": "SKU-3", "quantity": 1, "price": "4.50"}], shipping=shipping)
    world.start_consumer("orders")

    assert post_bc(world, 2001).status_code == 202

    created = wait_for_order(world, BC_ID, 2001)
    settle()
    assert len(world.infoplus.orders) == 1
    assert created["customerOrderNo"] == "303-2001" and created["orderSourceId"] == 57
    assert [(line["sku"], line["orderedQty"], line["unitSell"]) for line in created["lineItems"]] == [
        ("SKU-1", 2, 10.0), ("SKU-3", 1, 4.5)]
    assert (created["shipToCompany"], created["shipToAttention"], created["shipToStreet"], created["shipToCity"],
            created["shipToZip"], created["shipToCountry"]) == ("Lee & Co", "Sam Lee", "12 Oak Lane", "Dallas",
                                                                "75201", "US")
    assert created["billToStreet"] == bc_address()["street_1"]


def test_duplicate_delivery_makes_one_order(world, bc):
    bc.add_order(order_id=2002)
    world.start_consumer("orders")
    created_at = int(time.time())

    for _ in range(2):  # BigCommerce's retry: the same payload (same hash), a fresh signature
        post_bc(world, 2002, created_at=created_at, hash_value="same-hash")
    post_bc(world, 2002, scope="store/order/statusUpdated", previous_status_id=0, new_status_id=11)

    wait_for_order(world, BC_ID, 2002)
    settle()
    assert len(infoplus_orders(world, BC_ID, 2002)) == 1
    assert dead_letters(world, 2002, expect=0) == []


def test_stale_update_is_ignored_without_fetching_the_order_again(world, bc):
    bc.add_order(order_id=2003)
    world.start_consumer("orders")
    post_bc(world, 2003)
    wait_for_order(world, BC_ID, 2003)
    fetches = bc.count("GET", ORDER_PATH)

    # An update produced an hour ago, retried by BigCommerce only now (a correct, current signature).
    post_bc(world, 2003, scope="store/order/updated", created_at=int(time.time()) - 3600)

    [skip] = skips(world, 2003)
    assert skip["reason"].startswith("stale")
    assert bc.count("GET", ORDER_PATH) == fetches
    assert len(infoplus_orders(world, BC_ID, 2003)) == 1


def test_store_answering_429_then_200_still_delivers_the_order_once(world, bc):
    bc.add_order(order_id=2004)
    bc.rate_limit_next(2, reset_ms=1500)  # no Retry-After: only X-Rate-Limit-Time-Reset-Ms says when
    world.start_consumer("orders")

    post_bc(world, 2004)

    wait_for_order(world, BC_ID, 2004)
    settle()
    assert bc.throttled == 2
    assert len(infoplus_orders(world, BC_ID, 2004)) == 1
    assert dead_letters(world, 2004, expect=0) == []


def test_unpaid_order_is_held_back_until_bigcommerce_confirms_payment(world, bc):
    bc.add_order(order_id=2005, status_id=7)  # Awaiting Payment
    world.start_consumer("orders")

    post_bc(world, 2005)
    [skip] = skips(world, 2005)
    assert "not paid yet" in skip["reason"] and "Awaiting Payment" in skip["reason"]
    assert infoplus_orders(world, BC_ID, 2005) == []

    time.sleep(1.1)  # BigCommerce stamps versions to the second
    bc.set_order_status(2005, 11)  # Awaiting Fulfillment: paid
    post_bc(world, 2005, scope="store/order/statusUpdated", previous_status_id=7, new_status_id=11)
    wait_for_order(world, BC_ID, 2005)


def test_an_order_already_shipped_in_bigcommerce_is_not_created(world, bc):
    bc.add_order(order_id=2007, status_id=2)  # Shipped
    world.start_consumer("orders")

    post_bc(world, 2007, scope="store/order/updated")
    [skip] = skips(world, 2007)
    assert "already fulfilled in the cart" in skip["reason"]
    assert infoplus_orders(world, BC_ID, 2007) == []


def test_an_order_the_store_no_longer_has_is_dead_lettered(world, bc):
    world.start_consumer("orders")

    post_bc(world, 2006)  # never added to the store: GET v2/orders/2006 answers 404

    [dead] = dead_letters(world, 2006)
    assert "no longer exists in the cart" in dead["reason"]
