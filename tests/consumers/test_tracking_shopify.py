"""Infoplus shipment -> web push -> Kafka -> tracking consumer (a real process) -> Shopify stand-in.

Also the platform-neutral rules: switch off, unknown order, unmatched order, cart faults.
"""
from __future__ import annotations

import time

from tests.consumers.tracking_support import (WAIT, dead_letters, enable_tracking, infoplus_order, publish_as,
                                              push, shopify_reads, skipped, wait_handled)
from tests.support.world import eventually


def shopify_order(world, cart_order_id: int, lines: dict[str, int]) -> dict:
    return world.shopify.add_order(cart_order_id, [{"sku": sku, "quantity": qty} for sku, qty in lines.items()])


def fulfillments(world, cart_order_id: int, count: int = 1) -> list[dict]:
    return eventually(lambda: len(world.shopify.fulfillments(cart_order_id)) >= count
                      and world.shopify.fulfillments(cart_order_id), WAIT, message=f"{count} fulfillment(s)")


def shipped_lines(fulfillment: dict) -> dict[str, int]:
    return {line["sku"]: line["quantity"] for line in fulfillment["lineItems"]}


def numbers(fulfillment: dict) -> list[str]:
    return [info["number"] for info in fulfillment["trackingInfo"]]


def test_a_shipped_order_becomes_one_fulfillment_with_its_tracking(world):
    enable_tracking(world)
    shopify_order(world, 5001, {"SKU-1": 2, "SKU-2": 1})
    order = infoplus_order(world, 5001, {"SKU-1": 2, "SKU-2": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1Z999AA10123456784", "UPS")
    world.start_consumer("tracking")

    push(world, shipment)

    [fulfillment] = fulfillments(world, 5001)
    assert shipped_lines(fulfillment) == {"SKU-1": 2, "SKU-2": 1}
    assert fulfillment["trackingInfo"] == [{"company": "UPS", "number": "1Z999AA10123456784",
                                            "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"}]
    assert fulfillment["notifyCustomer"] is True
    assert world.shopify.order(5001)["fulfillmentOrders"][0]["status"] == "CLOSED"
    assert shopify_reads(world) == {"TrackingState": 1}  # an ordinary order is read in one call


def test_an_ordinary_pushed_shipment_costs_one_infoplus_call(world):
    """One carton, the whole order shipped: `GET order` is the floor; no carton or family search is needed."""
    enable_tracking(world)
    shopify_order(world, 5011, {"SKU-1": 1})
    order = infoplus_order(world, 5011, {"SKU-1": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1Z999AA10123456799", "UPS")
    world.start_consumer("tracking")
    world.infoplus.clear_calls()

    push(world, shipment)

    fulfillments(world, 5011)
    assert [(call.method, "/order/" in call.path and "search" not in call.path)
            for call in world.infoplus.calls] == [("GET", True)]


def test_the_same_shipment_three_times_makes_one_fulfillment_and_one_email(world):
    enable_tracking(world)
    shopify_order(world, 5002, {"SKU-1": 1})
    order = infoplus_order(world, 5002, {"SKU-1": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "9400111899223197428490", "USPS")
    consumer = world.start_consumer("tracking")

    [first] = push(world, shipment)
    fulfillments(world, 5002)
    # A re-push (same event id) and the same shipment from two other producers (new event ids, so only the
    # look-before-write in the cart can stop them).
    again = push(world, shipment) + [publish_as(world, shipment, "infoplus.poller"),
                                      publish_as(world, shipment, "infoplus.replay")]
    wait_handled(consumer, [first, *again[1:]])
    time.sleep(1)

    assert len(world.shopify.fulfillments(5002)) == 1
    assert world.shopify.customer_notifications(5002) == 1
    assert "already shows tracking" in consumer.output()


def test_two_cartons_put_both_tracking_numbers_on_the_fulfillment(world):
    enable_tracking(world)
    shopify_order(world, 5003, {"SKU-1": 3})
    order = infoplus_order(world, 5003, {"SKU-1": 3})
    carton1 = world.infoplus.add_shipment(order["orderNo"], "1ZCARTON0000000001", "UPS", carton_no=1,
                                          number_of_cartons=2)
    carton2 = world.infoplus.add_shipment(order["orderNo"], "1ZCARTON0000000002", "UPS", carton_no=2,
                                          number_of_cartons=2)
    consumer = world.start_consumer("tracking")

    ids = push(world, carton1, carton2)

    wait_handled(consumer, ids)
    [fulfillment] = world.shopify.fulfillments(5003)
    assert numbers(fulfillment) == ["1ZCARTON0000000001", "1ZCARTON0000000002"]
    assert shipped_lines(fulfillment) == {"SKU-1": 3}
    assert world.shopify.customer_notifications(5003) == 1


def test_a_carton_reported_after_its_goods_were_fulfilled_is_added_to_that_fulfillment(world):
    enable_tracking(world)
    shopify_order(world, 5004, {"SKU-1": 2})
    order = infoplus_order(world, 5004, {"SKU-1": 2})
    carton1 = world.infoplus.add_shipment(order["orderNo"], "1ZLATE00000000001", "UPS", carton_no=1,
                                          number_of_cartons=2)
    consumer = world.start_consumer("tracking")
    push(world, carton1)
    fulfillments(world, 5004)

    carton2 = world.infoplus.add_shipment(order["orderNo"], "1ZLATE00000000002", "UPS", carton_no=2,
                                          number_of_cartons=2)
    wait_handled(consumer, push(world, carton2))

    [fulfillment] = world.shopify.fulfillments(5004)
    assert numbers(fulfillment) == ["1ZLATE00000000001", "1ZLATE00000000002"]


def test_a_partial_shipment_fulfils_only_what_shipped_and_the_backorder_child_the_rest(world):
    enable_tracking(world)
    shopify_order(world, 5005, {"SKU-1": 2, "SKU-2": 1})
    order = infoplus_order(world, 5005, {"SKU-1": 2, "SKU-2": 1})
    first = world.infoplus.add_shipment(order["orderNo"], "1ZPART000000000001", "UPS", line_items={"SKU-1": 1})
    world.start_consumer("tracking")

    push(world, first)
    [partial] = fulfillments(world, 5005)
    assert shipped_lines(partial) == {"SKU-1": 1}
    assert numbers(partial) == ["1ZPART000000000001"]

    child = world.infoplus.add_backorder_child(order["orderNo"])  # 1000.001: SKU-1 x1, SKU-2 x1, same customerOrderNo
    rest = world.infoplus.add_shipment(child["orderNo"], "1ZPART000000000002", "UPS")
    push(world, rest)

    partial, remainder = fulfillments(world, 5005, count=2)
    assert shipped_lines(remainder) == {"SKU-1": 1, "SKU-2": 1}
    assert numbers(remainder) == ["1ZPART000000000002"]
    assert all(fo["status"] == "CLOSED" for fo in world.shopify.order(5005)["fulfillmentOrders"])


def test_sync_tracking_data_off_sends_nothing_to_the_cart_and_records_a_skip(world):
    enable_tracking(world)
    world.set_switch(101, "sync_tracking_data", False)
    shopify_order(world, 5006, {"SKU-1": 1})
    order = infoplus_order(world, 5006, {"SKU-1": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1ZTESTSHIPMENT0001", "UPS")
    world.start_consumer("tracking")

    [event_id] = push(world, shipment)

    [skip] = skipped(world)
    assert "Sync Tracking Data is off" in skip["reason"] and skip["event"]["event_id"] == event_id
    assert world.shopify.count() == 0 and world.shopify.fulfillments(5006) == []


def test_a_shipment_for_an_order_infoplus_does_not_have_is_dead_lettered_with_the_reason(world):
    enable_tracking(world)
    world.start_consumer("tracking")
    record = {"id": 9999, "orderNo": 4242.0, "lobId": 10000, "trackingNo": "1ZNOORDER000000001",
              "carrierCompany": "UPS", "shipDate": "2026-11-27T18:02:00Z", "status": "Shipped"}

    push(world, record)

    [dead] = dead_letters(world)
    assert "Infoplus order 4242 " in dead["reason"] and "does not exist" in dead["reason"]
    assert dead["event"]["payload"]["tracking_no"] == "1ZNOORDER000000001"
    assert world.shopify.count() == 0


def test_an_order_from_the_connected_source_without_our_customer_order_no_is_dead_lettered(world):
    enable_tracking(world)
    order = infoplus_order(world, 0, {"SKU-1": 1}, customer_order_no="MANUAL-ENTRY")
    manual = world.infoplus.add_shipment(order["orderNo"], "1ZMANUAL0000000001", "UPS")
    other_source = infoplus_order(world, 0, {"SKU-1": 1}, customer_order_no="EDI 77", order_source_id=99)
    edi = world.infoplus.add_shipment(other_source["orderNo"], "1ZEDI000000000001", "UPS")
    world.start_consumer("tracking")

    push(world, manual, edi)

    [dead] = dead_letters(world)
    assert "customerOrderNo 'MANUAL-ENTRY'" in dead["reason"] and "connection 101" in dead["reason"]
    [skip] = skipped(world)
    assert "did not come from a cart connection" in skip["reason"]


def test_shopify_failing_for_a_while_still_gets_the_fulfillment_exactly_once(world):
    enable_tracking(world)
    shopify_order(world, 5007, {"SKU-1": 1})
    order = infoplus_order(world, 5007, {"SKU-1": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1ZRETRY0000000001", "UPS")
    world.shopify.fail_next(2, status=503)
    world.shopify.fail_next(2, status=429, retry_after=1)
    world.shopify.throttle_next(1)
    world.start_consumer("tracking")

    push(world, shipment)

    [fulfillment] = fulfillments(world, 5007)
    time.sleep(2)
    assert len(world.shopify.fulfillments(5007)) == 1 and numbers(fulfillment) == ["1ZRETRY0000000001"]
    assert dead_letters(world, expect=0) == []
    assert sum(1 for call in world.shopify.calls if call.status in (429, 503)) == 4


def test_a_switch_kept_in_infoplus_is_read_from_infoplus(world):
    enable_tracking(world, switches_from="infoplus")  # the file's value no longer counts
    world.infoplus.add_connection(101, 10000, 55, sync_tracking_data=False)
    shopify_order(world, 5008, {"SKU-1": 1})
    order = infoplus_order(world, 5008, {"SKU-1": 1})
    world.start_consumer("tracking")

    push(world, world.infoplus.add_shipment(order["orderNo"], "1ZSWITCH000000001"))

    [skip] = skipped(world)
    assert "Sync Tracking Data is off for connection 101" in skip["reason"]
    assert world.shopify.fulfillments(5008) == []


def test_an_order_split_over_more_fulfillment_orders_than_a_page_is_fulfilled_once(world):
    enable_tracking(world)
    lines = {f"SKU-{n}": 1 for n in range(1, 13)}  # 12 fulfillment orders at one location: more than a page
    world.shopify.add_order(5101, [{"sku": sku, "quantity": 1, "fulfillment_order": sku} for sku in lines])
    order = infoplus_order(world, 5101, lines)
    shipment = world.infoplus.add_shipment(order["orderNo"], "1ZSPLIT0000000001", "UPS")
    consumer = world.start_consumer("tracking")

    [first] = push(world, shipment)
    fulfillments(world, 5101)
    again = [publish_as(world, shipment, "infoplus.poller")]  # a new event id: only the cart's state stops it
    wait_handled(consumer, [first, *again])

    [fulfillment] = world.shopify.fulfillments(5101)
    assert shipped_lines(fulfillment) == lines
    assert [fo["status"] for fo in world.shopify.order(5101)["fulfillmentOrders"]] == ["CLOSED"] * 12
    assert world.shopify.customer_notifications(5101) == 1
    reads = shopify_reads(world)
    assert reads["TrackingState"] == 2 and reads["TrackingFulfillmentOrders"] == 2  # each read paged once


def test_lines_beyond_the_first_page_of_a_fulfillment_order_are_found(world):
    enable_tracking(world)
    lines = {f"SKU-{n:02}": 1 for n in range(1, 61)}  # one fulfillment order of 60 lines
    shopify_order(world, 5102, lines)
    order = infoplus_order(world, 5102, lines)
    late_lines = {sku: 1 for sku in list(lines)[50:]}  # only lines the first page does not show
    shipment = world.infoplus.add_shipment(order["orderNo"], "1ZLINES000000001", "UPS", line_items=late_lines)
    world.start_consumer("tracking")

    push(world, shipment)

    [fulfillment] = fulfillments(world, 5102)
    assert shipped_lines(fulfillment) == late_lines
    [fo] = world.shopify.order(5102)["fulfillmentOrders"]
    assert fo["status"] == "IN_PROGRESS" and sum(line["remainingQuantity"] for line in fo["lineItems"]) == 50
    assert shopify_reads(world) == {"TrackingState": 1, "TrackingFulfillmentOrderLines": 1}


def test_a_tracking_number_on_a_fulfillment_past_the_first_fifty_is_seen(world):
    enable_tracking(world)
    lines = {f"SKU-{n:02}": 1 for n in range(1, 61)}
    shopify_order(world, 5103, lines)
    for n in range(1, 56):  # 55 earlier fulfillments, one line each; the newest carries this shipment's number
        world.shopify.add_fulfillment(5103, {f"SKU-{n:02}": 1}, f"1ZMANY{n:011}")
    order = infoplus_order(world, 5103, lines)
    shipment = world.infoplus.add_shipment(order["orderNo"], f"1ZMANY{55:011}", "UPS", line_items={"SKU-55": 1})
    consumer = world.start_consumer("tracking")

    wait_handled(consumer, push(world, shipment))

    assert "already shows tracking" in consumer.output()
    assert len(world.shopify.fulfillments(5103)) == 55
    assert not any(f.get("trackingUpdates") for f in world.shopify.fulfillments(5103))
    assert shopify_reads(world)["TrackingFulfillments"] == 1
