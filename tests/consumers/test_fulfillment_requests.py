"""Shopify "Fulfilled by Infoplus": fulfillment and cancellation requests through the real web tier, broker and
orders consumer, against the Shopify stand-in speaking the fulfillment service operations."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import requests

from events import topics
from ops.fulfillment_service import main as fulfillment_service_command
from sandbox.sample import shopify_order
from tests.support.kafka import free_port
from tests.support.world import eventually
from tests.webhooks.test_fulfillment_notification import post_notification

WAIT = 45


def fulfillment_service(world) -> str:
    """Register the service in the stand-in and make connection 101 a fulfillment service connection at its
    location; returns the location id."""
    created = world.shopify.mutation_fulfillmentServiceCreate(
        {"name": "Infoplus", "callbackUrl": "https://cartbridge.example.com/webhooks/carts/101",
         "inventoryManagement": True, "trackingSupport": True})
    location = created["fulfillmentService"]["location"]["id"]
    world.connections[0].update({"fulfillment_service": True, "location_id": location})
    world.write_connections()
    return location


def accepted_request(world, order_id: int, lines: list[dict], **order_fields) -> str:
    """A fulfillment service connection, order `order_id` (lines at the service's location unless they say
    otherwise), its request sent, the orders consumer running and the request accepted; returns the fulfillment
    order id of ours."""
    location = fulfillment_service(world)
    world.shopify.add_order(order_id, lines, location_id=location, **order_fields)
    [fo_id] = world.shopify.request_fulfillment(order_id)
    world.start_consumer("orders")
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="the request accepted")
    return fo_id


def our_fulfillment_orders(world, order_id: int, location: str) -> list[dict]:
    return [fo for fo in world.shopify.fulfillment_orders(order_id) if fo["locationId"] == location]


def test_a_request_for_one_fulfillment_order_makes_one_infoplus_order_then_is_accepted(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8001, [{"id": 1, "sku": "SKU-1", "quantity": 2, "price": "12.50"},
                                   {"id": 2, "sku": "SKU-2", "quantity": 1}], location_id=location, name="#8001")
    [fo_id] = world.shopify.request_fulfillment(8001)
    world.start_consumer("orders")

    assert post_notification(world, {"kind": "FULFILLMENT_REQUEST"}).status_code == 202

    fo = eventually(lambda: (f := world.shopify.fulfillment_order(fo_id))["requestStatus"] == "ACCEPTED" and f,
                    WAIT, message="the request accepted")
    [created] = world.infoplus.orders
    assert created["customerOrderNo"] == "101-8001" and created["customerPONo"] == "#8001"
    assert [(l["sku"], l["orderedQty"], l["unitSell"]) for l in created["lineItems"]] == [
        ("SKU-1", 2, 12.5), ("SKU-2", 1, 10.0)]
    assert created["shipToCity"] == "Louisville" and created["shipToZip"] == "40202"
    [answer] = fo["answers"]
    assert answer["mutation"] == "fulfillmentOrderAcceptFulfillmentRequest"
    assert str(created["orderNo"]) in answer["message"]


def test_an_order_split_across_locations_sends_infoplus_only_our_lines(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8002, [{"id": 11, "sku": "OURS", "quantity": 3},
                                   {"id": 12, "sku": "THEIRS", "quantity": 1, "location_id": "gid://shopify/Location/1"}],
                            location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8002)
    world.start_consumer("orders")

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})

    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="our request accepted")
    [created] = world.infoplus.orders
    assert [(l["sku"], l["orderedQty"]) for l in created["lineItems"]] == [("OURS", 3)]
    [theirs] = [fo for fo in world.shopify.fulfillment_orders(8002) if fo["locationId"] != location]
    assert theirs.get("requestStatus", "UNSUBMITTED") == "UNSUBMITTED"  # not ours to answer


def test_an_unknown_sku_is_rejected_with_the_reason_and_dead_lettered(world):
    world.infoplus.known_skus = {10000: {"SKU-1"}}
    location = fulfillment_service(world)
    world.shopify.add_order(8003, [{"id": 21, "sku": "NOT-IN-INFOPLUS", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8003)
    world.start_consumer("orders")

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})

    [dead] = world.read(topics.dead_letters(topics.CART_ORDERS), timeout=WAIT)
    assert dead["error"]["status"] == 422 and "NOT-IN-INFOPLUS" in str(dead["error"]["body"])
    assert "rejected" in dead["reason"]
    fo = world.shopify.fulfillment_order(fo_id)
    assert fo["requestStatus"] == "REJECTED" and world.infoplus.orders == []
    [answer] = fo["answers"]
    assert answer["mutation"] == "fulfillmentOrderRejectFulfillmentRequest"
    assert "NOT-IN-INFOPLUS" in answer["message"] and "101-8003" in answer["message"]


def test_the_same_callback_twice_and_a_consumer_restart_make_one_order_and_one_acceptance(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8004, [{"id": 31, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8004)
    consumer = world.start_consumer("orders")

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="accepted")
    consumer.terminate(timeout=20)
    world.start_consumer("orders")
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    time.sleep(4)

    assert len(world.infoplus.orders) == 1
    assert len(world.shopify.fulfillment_order(fo_id)["answers"]) == 1


def test_created_in_infoplus_but_not_yet_accepted_is_accepted_without_a_second_order(world):
    """A restart between Infoplus creating the order and Shopify receiving the acceptance."""
    location = fulfillment_service(world)
    world.shopify.add_order(8005, [{"id": 41, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8005)
    world.infoplus.add_order({"customerOrderNo": "101-8005", "lobId": 10000, "status": "Pending",
                              "lineItems": [{"sku": "SKU-1", "orderedQty": 1}]})
    world.overrides["STATE_CLOCK_SKEW_SECONDS"] = "3600"  # the store cannot vouch: it must look
    world.start_consumer("orders")

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})

    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="accepted")
    assert len(world.infoplus.orders) == 1


def test_sync_orders_off_leaves_the_request_unanswered_then_on_creates_and_accepts(world):
    location = fulfillment_service(world)
    world.set_switch(101, "sync_orders", False)
    world.shopify.add_order(8006, [{"id": 51, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8006)
    world.start_consumer("orders")

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    [skip] = world.read(topics.skipped(topics.CART_ORDERS), timeout=WAIT)
    assert "Sync Orders is off" in skip["reason"]
    assert world.shopify.fulfillment_order(fo_id)["requestStatus"] == "SUBMITTED" and world.infoplus.orders == []

    world.set_switch(101, "sync_orders", True)  # no new callback: the sweep picks the request up
    world.overrides["FULFILLMENT_SWEEP_SECONDS"] = "1"
    metrics_port = free_port()
    world.overrides["METRICS_PORT"] = str(metrics_port)  # the sweep serves its metrics like every loop process
    world.start_process("consumers.fulfillment_sweep")
    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="accepted once on")
    assert len(world.infoplus.orders) == 1
    scrape = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    assert 'cartbridge_outbound_requests_total{api="shopify"' in scrape


def test_order_webhooks_on_a_fulfillment_service_connection_create_nothing(world):
    fulfillment_service(world)
    world.start_consumer("orders")

    world.post_shopify_order(shopify_order(order_id=8007))

    [skip] = world.read(topics.skipped(topics.CART_ORDERS), timeout=WAIT)
    assert "fulfillment service" in skip["reason"] and world.infoplus.orders == []


def test_a_cancellation_request_before_infoplus_has_the_order_is_accepted(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8008, [{"id": 61, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8008)
    world.shopify.mutation_fulfillmentOrderAcceptFulfillmentRequest({"id": fo_id})  # accepted, never created
    world.shopify.request_cancellation(8008)
    world.start_consumer("orders")

    post_notification(world, {"kind": "CANCELLATION_REQUEST"})

    fo = eventually(lambda: (f := world.shopify.fulfillment_order(fo_id))["requestStatus"] ==
                    "CANCELLATION_ACCEPTED" and f, WAIT, message="cancellation accepted")
    assert world.infoplus.orders == []
    assert fo["answers"][-1]["mutation"] == "fulfillmentOrderAcceptCancellationRequest"


def test_a_cancellation_request_after_infoplus_has_it_tells_ops_then_the_command_answers(world, monkeypatch, capsys):
    fo_id = accepted_request(world, 8009, [{"id": 71, "sku": "SKU-1", "quantity": 1}])

    world.shopify.request_cancellation(8009)
    post_notification(world, {"kind": "CANCELLATION_REQUEST"})
    post_notification(world, {"kind": "CANCELLATION_REQUEST"})  # told once, not twice

    [dead] = world.read(topics.dead_letters(topics.CART_ORDERS), timeout=WAIT)
    assert dead["reason"].startswith("ops must act") and dead["error"]["action"] == "cancel_in_infoplus"
    assert dead["error"]["infoplus_order_no"] == world.infoplus.orders[0]["orderNo"]
    assert dead["error"]["fulfillment_order_ids"] == [fo_id]
    time.sleep(3)
    assert len(world.read(topics.dead_letters(topics.CART_ORDERS), expect=2, timeout=2)) == 1
    assert world.shopify.fulfillment_order(fo_id)["requestStatus"] == "CANCELLATION_REQUESTED"

    monkeypatch.setenv("CONNECTIONS_FILE", str(world.connections_path))
    assert fulfillment_service_command(["--connection", "101", "--accept-cancellation", fo_id]) == 0
    assert world.shopify.fulfillment_order(fo_id)["requestStatus"] == "CANCELLATION_ACCEPTED"
    assert "accepted" in capsys.readouterr().out


def test_a_lost_callback_is_found_by_the_sweep(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8010, [{"id": 81, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8010)  # no callback reaches cartbridge
    world.overrides["FULFILLMENT_SWEEP_SECONDS"] = "1"
    world.start_consumer("orders")
    world.start_process("consumers.fulfillment_sweep")

    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="the sweep found the request")
    time.sleep(3)  # more passes: nothing requested any more, nothing published or answered again
    assert len(world.infoplus.orders) == 1
    assert len(world.shopify.fulfillment_order(fo_id)["answers"]) == 1


def test_a_later_request_for_an_order_infoplus_already_has_is_rejected_not_accepted_without_its_lines(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8011, [{"id": 91, "sku": "SKU-1", "quantity": 1, "fulfillment_order": "a"},
                                   {"id": 92, "sku": "SKU-2", "quantity": 1, "fulfillment_order": "b"}],
                            location_id=location)
    first, second = [fo["id"] for fo in world.shopify.fulfillment_orders(8011)]
    world.shopify.request_fulfillment(8011, only=[first])
    world.start_consumer("orders")
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})
    eventually(lambda: world.shopify.fulfillment_order(first)["requestStatus"] == "ACCEPTED", WAIT,
               message="the first accepted")

    world.shopify.request_fulfillment(8011, only=[second])
    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})

    [dead] = world.read(topics.dead_letters(topics.CART_ORDERS), timeout=WAIT)
    assert "already has order" in dead["reason"]
    assert world.shopify.fulfillment_order(second)["requestStatus"] == "REJECTED"
    [created] = world.infoplus.orders
    assert [l["sku"] for l in created["lineItems"]] == ["SKU-1"]


def test_shopify_failing_the_acceptance_after_infoplus_created_the_order_still_makes_one_of_each(world):
    location = fulfillment_service(world)
    world.shopify.add_order(8012, [{"id": 95, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [fo_id] = world.shopify.request_fulfillment(8012)
    world.shopify.fail_answers(2)  # the acceptance fails twice, after Infoplus has the order
    world.start_consumer("orders")

    post_notification(world, {"kind": "FULFILLMENT_REQUEST"})

    eventually(lambda: world.shopify.fulfillment_order(fo_id)["requestStatus"] == "ACCEPTED", WAIT,
               message="accepted on a retry")
    time.sleep(2)
    assert len(world.infoplus.orders) == 1
    assert len(world.shopify.fulfillment_order(fo_id)["answers"]) == 1
    assert world.read(topics.dead_letters(topics.CART_ORDERS), expect=0, timeout=2) == []


def test_a_second_cancellation_request_after_ops_rejected_the_first_is_told_again(world, monkeypatch):
    fo_id = accepted_request(world, 8013, [{"id": 96, "sku": "SKU-1", "quantity": 1}])
    world.shopify.request_cancellation(8013)
    post_notification(world, {"kind": "CANCELLATION_REQUEST"})
    world.read(topics.dead_letters(topics.CART_ORDERS), timeout=WAIT)
    monkeypatch.setenv("CONNECTIONS_FILE", str(world.connections_path))
    assert fulfillment_service_command(["--connection", "101", "--reject-cancellation", fo_id,
                                        "--message", "already packed"]) == 0

    world.shopify.request_cancellation(8013, message="really cancel, please")
    post_notification(world, {"kind": "CANCELLATION_REQUEST"})

    first, second = world.read(topics.dead_letters(topics.CART_ORDERS), expect=2, timeout=WAIT)
    assert first["error"]["action"] == second["error"]["action"] == "cancel_in_infoplus"
    assert second["error"]["fulfillment_order_ids"] == [fo_id]


# -- order webhooks on a fulfillment service connection: change detection --------------------------------------
JANE = {"firstName": "Jane", "lastName": "Doe", "company": None, "address1": "92 Chestnut Street",
        "address2": "Suite 4", "city": "Louisville", "provinceCode": "KY", "countryCode": "US", "zip": "40202"}


def _accepted_split_order(world, order_id: int) -> str:
    """Order `order_id` as sandbox.sample.shopify_order(order_id, skus=["OURS", "THEIRS"], quantity=2) writes it
    (line ids order_id*10+1, +2), OURS at our location and THEIRS elsewhere; ours requested and accepted."""
    return accepted_request(world, order_id, [{"id": order_id * 10 + 1, "sku": "OURS", "quantity": 2},
                                              {"id": order_id * 10 + 2, "sku": "THEIRS", "quantity": 2,
                                               "location_id": "gid://shopify/Location/1"}],
                            shipping_address=JANE)


def _version(order_id: int, minutes_later: int, **changes) -> dict:
    order = shopify_order(order_id=order_id, skus=["OURS", "THEIRS"], quantity=2)
    order["updated_at"] = (datetime.fromisoformat(order["updated_at"]) + timedelta(minutes=minutes_later)).isoformat()
    for line_index, quantity in changes.get("quantities", {}).items():
        order["line_items"][line_index]["current_quantity"] = quantity
    order["shipping_address"].update(changes.get("ship_to", {}))
    return order


def test_an_edit_of_our_lines_after_creation_is_reported_and_lines_elsewhere_are_not_compared(world):
    _accepted_split_order(world, 8014)

    world.post_shopify_order(_version(8014, 1), topic="orders/updated")  # unchanged; THEIRS is not in Infoplus
    world.post_shopify_order(_version(8014, 2, quantities={1: 1}), topic="orders/updated")  # theirs edited
    world.post_shopify_order(_version(8014, 3, quantities={0: 1, 1: 1}), topic="orders/updated")  # ours too

    [dead] = world.read(topics.dead_letters(topics.CART_ORDERS), timeout=WAIT)
    assert dead["reason"].startswith("ops must act") and dead["error"]["action"] == "apply_edit_in_infoplus"
    assert dead["error"]["changes"] == {"lines": {"80141": {"sku": "OURS", "cart": 1, "at_creation": 2}}}
    assert dead["error"]["infoplus_order_no"] == world.infoplus.orders[0]["orderNo"]
    time.sleep(2)
    assert len(world.read(topics.dead_letters(topics.CART_ORDERS), expect=2, timeout=2)) == 1
    assert len(world.infoplus.orders) == 1


def test_a_ship_to_change_and_a_cancellation_after_creation_are_reported(world):
    _accepted_split_order(world, 8015)

    world.post_shopify_order(_version(8015, 1, ship_to={"city": "Lexington"}), topic="orders/updated")
    cancelled = _version(8015, 2, ship_to={"city": "Lexington"})
    cancelled["cancelled_at"] = cancelled["updated_at"]
    world.post_shopify_order(cancelled, topic="orders/cancelled")

    edit, cancel = world.read(topics.dead_letters(topics.CART_ORDERS), expect=2, timeout=WAIT)
    assert edit["error"]["changes"] == {"ship_to": {"shipToCity": {"cart": "Lexington", "infoplus": "Louisville"}}}
    assert cancel["error"]["action"] == "cancel_in_infoplus"
    assert "cancellation request" in cancel["reason"]
