"""Infoplus shipment -> tracking consumer -> BigCommerce stand-in: `POST v2/orders/{id}/shipments`, exactly once."""
from __future__ import annotations

import time

from tests.consumers.tracking_support import WAIT, enable_tracking, infoplus_order, publish_as, push, wait_handled
from tests.support.cart_orders import BC_ID, bc  # noqa: F401  (fixture)
from tests.support.world import eventually

CART_SOURCE = 57  # the order source of connection 303 (tests.support.cart_orders)


def ship_order(world, bc, cart_order_id: int, lines: dict[str, int]) -> dict:  # noqa: F811
    bc.add_order(cart_order_id, products=[{"sku": sku, "quantity": qty} for sku, qty in lines.items()])
    return infoplus_order(world, cart_order_id, lines, connection_id=BC_ID, order_source_id=CART_SOURCE)


def shipments(bc, cart_order_id: int, count: int = 1) -> list[dict]:  # noqa: F811
    return eventually(lambda: len(bc.shipments(cart_order_id)) >= count and bc.shipments(cart_order_id), WAIT,
                      message=f"{count} BigCommerce shipment(s)")


def items(bc, cart_order_id: int, shipment: dict) -> dict[str, int]:  # noqa: F811
    sku_of = {p["id"]: p["sku"] for p in bc.order_products(cart_order_id)}
    return {sku_of[item["order_product_id"]]: item["quantity"] for item in shipment["items"]}


def test_a_shipped_order_becomes_one_shipment_and_one_email_however_often_it_arrives(world, bc):  # noqa: F811
    enable_tracking(world, BC_ID)
    order = ship_order(world, bc, 901, {"SKU-1": 2, "SKU-2": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1ZBC0000000000001", "UPS")
    consumer = world.start_consumer("tracking")

    [first] = push(world, shipment)
    [created] = shipments(bc, 901)
    again = [publish_as(world, shipment, "infoplus.poller"), publish_as(world, shipment, "infoplus.replay")]
    wait_handled(consumer, [first, *again])

    assert len(bc.shipments(901)) == 1 and len(bc.emails) == 1
    address = bc.shipping_addresses(901)[0]
    assert created["order_address_id"] == address["id"]
    assert created["tracking_number"] == "1ZBC0000000000001"
    assert created["shipping_provider"] == "ups" and created["tracking_carrier"] == "ups"
    assert items(bc, 901, created) == {"SKU-1": 2, "SKU-2": 1}
    assert bc.order(901)["status_id"] == 2  # Shipped


def test_a_partial_shipment_ships_only_those_items(world, bc):  # noqa: F811
    enable_tracking(world, BC_ID)
    order = ship_order(world, bc, 902, {"SKU-1": 2, "SKU-2": 1})
    partial = world.infoplus.add_shipment(order["orderNo"], "9400111899223197428492", "USPS",
                                          line_items={"SKU-1": 1})
    world.start_consumer("tracking")

    push(world, partial)

    [created] = shipments(bc, 902)
    assert items(bc, 902, created) == {"SKU-1": 1}
    assert created["shipping_provider"] == "usps"
    assert bc.order(902)["status_id"] == 3  # Partially Shipped


def test_several_cartons_reach_the_shipment_and_a_late_carton_is_added_to_it(world, bc):  # noqa: F811
    enable_tracking(world, BC_ID)
    order = ship_order(world, bc, 903, {"SKU-1": 3})
    carton1 = world.infoplus.add_shipment(order["orderNo"], "1ZBCCARTON0000001", "UPS", carton_no=1,
                                          number_of_cartons=3)
    carton2 = world.infoplus.add_shipment(order["orderNo"], "1ZBCCARTON0000002", "UPS", carton_no=2,
                                          number_of_cartons=3)
    consumer = world.start_consumer("tracking")
    wait_handled(consumer, push(world, carton1, carton2))

    carton3 = world.infoplus.add_shipment(order["orderNo"], "1ZBCCARTON0000003", "UPS", carton_no=3,
                                          number_of_cartons=3)
    wait_handled(consumer, push(world, carton3))

    [created] = bc.shipments(903)
    assert created["tracking_number"] == "1ZBCCARTON0000001"
    for number in ("1ZBCCARTON0000001", "1ZBCCARTON0000002", "1ZBCCARTON0000003"):
        assert number in created["comments"]
    assert len(bc.emails) == 1


def test_a_carrier_bigcommerce_does_not_know_falls_back_to_a_custom_provider(world, bc):  # noqa: F811
    enable_tracking(world, BC_ID)
    order = ship_order(world, bc, 904, {"SKU-1": 1})
    world.start_consumer("tracking")

    push(world, world.infoplus.add_shipment(order["orderNo"], "LS123456789", "Acme Regional Couriers"))

    [created] = shipments(bc, 904)
    assert created["shipping_provider"] == "" and created["tracking_carrier"] == ""
    assert "Acme Regional Couriers LS123456789" in created["comments"]


def test_bigcommerce_rate_limiting_for_a_while_still_gets_the_shipment_exactly_once(world, bc):  # noqa: F811
    enable_tracking(world, BC_ID)
    order = ship_order(world, bc, 905, {"SKU-1": 1})
    bc.rate_limit_next(3, reset_ms=1000)
    bc.fail_next(2, status=500, path_regex=r"/shipments$")
    world.start_consumer("tracking")

    push(world, world.infoplus.add_shipment(order["orderNo"], "1ZBCRETRY00000001"))

    shipments(bc, 905)
    time.sleep(2)
    assert len(bc.shipments(905)) == 1 and len(bc.emails) == 1
    assert bc.throttled == 3
