"""Infoplus shipment -> tracking consumer -> WooCommerce stand-in: Shipment Tracking items or a customer note,
then `completed` once everything shipped — each exactly once."""
from __future__ import annotations

import time

from tests.consumers.tracking_support import WAIT, enable_tracking, infoplus_order, publish_as, push, wait_handled
from tests.support.cart_orders import WOO_ID, woo  # noqa: F401  (fixture)
from tests.support.world import eventually

CART_SOURCE = 56  # the order source of connection 202 (tests.support.cart_orders)


def ship_order(world, woo, cart_order_id: int, lines: dict[str, int]) -> dict:  # noqa: F811
    woo.add_order(cart_order_id, line_items=[{"sku": sku, "quantity": qty} for sku, qty in lines.items()])
    return infoplus_order(world, cart_order_id, lines, connection_id=WOO_ID, order_source_id=CART_SOURCE)


def emails(woo, cart_order_id: int, template: str) -> list[dict]:  # noqa: F811
    return [e for e in woo.emails if e["order_id"] == cart_order_id and e["template"] == template]


def test_with_shipment_tracking_each_carton_is_one_tracking_item_and_the_order_completes_once(world, woo):  # noqa: F811
    woo.shipment_tracking = True
    enable_tracking(world, WOO_ID, woocommerce_shipment_tracking=True)
    order = ship_order(world, woo, 801, {"SKU-1": 2})
    carton1 = world.infoplus.add_shipment(order["orderNo"], "1ZWOO000000000001", "UPS", carton_no=1,
                                          number_of_cartons=2)
    carton2 = world.infoplus.add_shipment(order["orderNo"], "1ZWOO000000000002", "UPS", carton_no=2,
                                          number_of_cartons=2)
    consumer = world.start_consumer("tracking")

    ids = push(world, carton1, carton2)
    wait_handled(consumer, ids)
    again = [publish_as(world, carton1, "infoplus.poller"), publish_as(world, carton2, "infoplus.poller")]
    wait_handled(consumer, again)

    trackings = woo.trackings(801)
    assert [(t["tracking_provider"], t["tracking_number"]) for t in trackings] == [
        ("UPS", "1ZWOO000000000001"), ("UPS", "1ZWOO000000000002")]
    assert trackings[0]["date_shipped"] == carton1["shipDate"][:10]
    assert woo.order(801)["status"] == "completed"
    assert len(emails(woo, 801, "customer_completed_order")) == 1
    assert emails(woo, 801, "customer_note") == []


def test_without_the_extension_a_customer_note_carries_the_tracking_once(world, woo):  # noqa: F811
    enable_tracking(world, WOO_ID)
    order = ship_order(world, woo, 802, {"SKU-1": 1, "SKU-2": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "9400111899223197428491", "USPS")
    consumer = world.start_consumer("tracking")

    [first] = push(world, shipment)
    wait_handled(consumer, [first])
    push(world, shipment)
    again = [publish_as(world, shipment, "infoplus.poller"), publish_as(world, shipment, "infoplus.replay")]
    wait_handled(consumer, again)

    [note] = [n for n in woo.notes(802) if n["customer_note"]]
    assert "9400111899223197428491" in note["note"] and "USPS" in note["note"]
    assert "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428491" in note["note"]
    assert len(emails(woo, 802, "customer_note")) == 1
    assert woo.order(802)["status"] == "completed" and len(emails(woo, 802, "customer_completed_order")) == 1


def test_a_partial_shipment_adds_its_tracking_and_leaves_the_order_open_until_the_rest_ships(world, woo):  # noqa: F811
    enable_tracking(world, WOO_ID)
    order = ship_order(world, woo, 803, {"SKU-1": 1, "SKU-2": 1})
    first = world.infoplus.add_shipment(order["orderNo"], "1ZWOOPART00000001", "UPS", line_items={"SKU-1": 1})
    consumer = world.start_consumer("tracking")

    wait_handled(consumer, push(world, first))
    assert woo.order(803)["status"] == "processing"
    [note] = [n for n in woo.notes(803) if n["customer_note"]]
    assert "1ZWOOPART00000001" in note["note"] and "1 × SKU-1" in note["note"] and "SKU-2" not in note["note"]

    child = world.infoplus.add_backorder_child(order["orderNo"])
    rest = world.infoplus.add_shipment(child["orderNo"], "1ZWOOPART00000002", "UPS")
    wait_handled(consumer, push(world, rest))
    assert woo.order(803)["status"] == "completed"
    assert len(emails(woo, 803, "customer_note")) == 2


def test_notify_customer_off_keeps_the_note_private(world, woo):  # noqa: F811
    enable_tracking(world, WOO_ID, notify_customer=False)
    order = ship_order(world, woo, 804, {"SKU-1": 1})
    consumer = world.start_consumer("tracking")

    wait_handled(consumer, push(world, world.infoplus.add_shipment(order["orderNo"], "1ZWOOQUIET0000001")))

    assert any("1ZWOOQUIET0000001" in n["note"] and not n["customer_note"] for n in woo.notes(804))
    assert emails(woo, 804, "customer_note") == []


def test_woocommerce_failing_for_a_while_still_gets_the_tracking_exactly_once(world, woo):  # noqa: F811
    enable_tracking(world, WOO_ID)
    order = ship_order(world, woo, 805, {"SKU-1": 1})
    woo.fail_next(2, status=503, path_regex=r"/notes$")
    woo.fail_next(2, status=429, retry_after=1, path_regex=r"/orders/805$")
    world.start_consumer("tracking")

    push(world, world.infoplus.add_shipment(order["orderNo"], "1ZWOORETRY0000001"))

    eventually(lambda: woo.order(805)["status"] == "completed", WAIT, message="order completed")
    time.sleep(2)
    assert len(emails(woo, 805, "customer_note")) == 1
    assert len(emails(woo, 805, "customer_completed_order")) == 1
    assert sum(1 for call in woo.calls if call.status in (429, 503)) == 4
