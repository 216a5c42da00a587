"""Infoplus shipment -> tracking consumer -> Magento stand-in: `POST V1/order/{id}/ship` with tracks, exactly once
(OAuth 1.0a checked by the stand-in)."""
from __future__ import annotations

from typing import Iterator

import pytest

from events import topics
from sandbox.magento import MagentoStandIn
from tests.consumers.test_orders_magento import MAGENTO_ID, magento_connection
from tests.consumers.tracking_support import WAIT, enable_tracking, infoplus_order, publish_as, push, wait_handled
from tests.support.world import eventually

CART_SOURCE = 58  # the order source of connection 404 (magento_connection)


@pytest.fixture
def magento(world) -> Iterator[MagentoStandIn]:
    with MagentoStandIn(bearer_allowed=False) as store:
        world.connections.append(magento_connection(store))
        world.write_connections()
        yield store


def ship_order(world, magento, cart_order_id: int, lines: dict[str, int]) -> dict:
    magento.add_order(cart_order_id, items=[{"sku": sku, "qty": qty} for sku, qty in lines.items()])
    return infoplus_order(world, cart_order_id, lines, connection_id=MAGENTO_ID, order_source_id=CART_SOURCE)


def shipments(magento, cart_order_id: int, count: int = 1) -> list[dict]:
    return eventually(lambda: len(found := magento.shipments(cart_order_id)) >= count and found, WAIT,
                      message=f"{count} Magento shipment(s)")


def shipped(shipment: dict) -> dict[str, float]:
    return {item["sku"]: item["qty"] for item in shipment["items"]}


def test_a_shipped_order_becomes_one_shipment_and_one_email_however_often_it_arrives(world, magento):
    enable_tracking(world, MAGENTO_ID)
    order = ship_order(world, magento, 1001, {"SKU-1": 2, "SKU-2": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1ZMG0000000000001", "UPS")
    consumer = world.start_consumer("tracking")

    [first] = push(world, shipment)
    [created] = shipments(magento, 1001)
    again = [publish_as(world, shipment, "infoplus.poller"), publish_as(world, shipment, "infoplus.replay")]
    wait_handled(consumer, [first, *again])

    assert len(magento.shipments(1001)) == 1 and len(magento.emails) == 1
    assert shipped(created) == {"SKU-1": 2, "SKU-2": 1}
    assert [(t["track_number"], t["carrier_code"], t["title"]) for t in created["tracks"]] == [
        ("1ZMG0000000000001", "ups", "UPS")]
    assert magento.order(1001)["state"] == "complete"
    assert magento.auth_failures == [] and magento.bearer_requests == 0


def test_a_partial_shipment_ships_only_those_items_and_the_rest_ships_later(world, magento):
    enable_tracking(world, MAGENTO_ID, notify_customer=False)
    order = ship_order(world, magento, 1002, {"SKU-1": 2, "SKU-2": 1})
    partial = world.infoplus.add_shipment(order["orderNo"], "9400111899223197428492", "USPS",
                                          line_items={"SKU-1": 1})
    consumer = world.start_consumer("tracking")
    wait_handled(consumer, push(world, partial))

    [first] = magento.shipments(1002)
    assert shipped(first) == {"SKU-1": 1} and first["tracks"][0]["carrier_code"] == "usps"
    assert magento.order(1002)["state"] == "processing" and magento.emails == []  # notify_customer: false

    rest = world.infoplus.add_shipment(order["orderNo"], "1ZMGREST000000001", "UPS")
    wait_handled(consumer, push(world, rest))
    second = shipments(magento, 1002, 2)[1]
    assert shipped(second) == {"SKU-1": 1, "SKU-2": 1}
    assert magento.order(1002)["state"] == "complete"


def test_several_cartons_are_tracks_on_one_shipment_and_a_late_carton_is_added_to_it(world, magento):
    enable_tracking(world, MAGENTO_ID)
    order = ship_order(world, magento, 1003, {"SKU-1": 3})
    cartons = [world.infoplus.add_shipment(order["orderNo"], f"1ZMGCARTON000000{n}", carrier, carton_no=n,
                                           number_of_cartons=3) for n, carrier in ((1, "UPS"), (2, "OnTrac"))]
    consumer = world.start_consumer("tracking")
    wait_handled(consumer, push(world, *cartons))

    late = world.infoplus.add_shipment(order["orderNo"], "1ZMGCARTON0000003", "FedEx Ground", carton_no=3,
                                       number_of_cartons=3)
    wait_handled(consumer, push(world, late))

    [created] = magento.shipments(1003)
    assert [(t["track_number"], t["carrier_code"]) for t in created["tracks"]] == [
        ("1ZMGCARTON0000001", "ups"), ("1ZMGCARTON0000002", "custom"), ("1ZMGCARTON0000003", "fedex")]
    assert created["tracks"][1]["title"] == "OnTrac"
    assert len(magento.emails) == 1  # one shipment email; the late track sends none
    assert magento.count("POST", r"/order/1003/ship$") == 1


def test_in_preview_the_shipment_is_described_and_not_made(world, magento):
    enable_tracking(world, MAGENTO_ID)
    world.set_switch(MAGENTO_ID, "sync_tracking_data", "preview")
    order = ship_order(world, magento, 1004, {"SKU-1": 2})
    world.start_consumer("tracking")

    push(world, world.infoplus.add_shipment(order["orderNo"], "1ZMGPREVIEW000001", "UPS"))

    [record] = world.read(topics.skipped(topics.INFOPLUS_SHIPMENTS), expect=1, timeout=WAIT)
    assert (record["connection_id"], record["code"]) == (MAGENTO_ID, "preview")
    [write] = record["preview"]["would_write"]
    assert (write["action"], write["items"], write["tracking_numbers"], write["email"]) == (
        "shipment", {"SKU-1": 2}, ["1ZMGPREVIEW000001"], "Magento shipment email")
    assert magento.shipments(1004) == [] and magento.emails == []
    assert [c for c in magento.calls if c.method != "GET"] == []
