"""Cart order -> Kafka -> orders consumer (a real process) -> Infoplus stand-in, exactly once."""
from __future__ import annotations

import time

from events import topics
from sandbox.sample import shopify_order
from tests.support.world import eventually

ORDER_PATH = r"/order$"


def orders_for(world, cart_order_id: int) -> list[dict]:
    return [o for o in world.infoplus.orders if o["customerOrderNo"] == f"101-{cart_order_id}"]


def wait_for_orders(world, count: int, timeout: float = 45) -> list[dict]:
    return eventually(lambda: len(world.infoplus.orders) >= count and world.infoplus.orders, timeout,
                      message=f"{count} Infoplus orders")


def test_signed_webhook_becomes_exactly_one_infoplus_order_with_the_right_fields(world):
    world.start_consumer("orders")
    order = shopify_order(order_id=7001, skus=["SKU-1", "SKU-2"])

    assert world.post_shopify_order(order).status_code == 202

    [created] = wait_for_orders(world, 1)
    time.sleep(1)
    assert len(world.infoplus.orders) == 1
    assert created["lobId"] == 10000 and created["warehouseId"] == 1000 and created["orderSourceId"] == 55
    assert created["carrierId"] == 1
    assert created["customerOrderNo"] == "101-7001"
    assert created["customerPONo"] == order["name"]
    assert created["orderDate"] == order["created_at"][:10]
    ship = order["shipping_address"]
    assert created["shipToStreet"] == ship["address1"] and created["shipToCity"] == ship["city"]
    assert created["shipToZip"] == ship["zip"] and created["shipToCountry"] == ship["country_code"]
    assert created["shipToCompany"] and created["billToCompany"]
    assert [(line["sku"], line["orderedQty"], line["unitSell"]) for line in created["lineItems"]] == [
        (item["sku"], item["quantity"], float(item["price"])) for item in order["line_items"]]


def test_sync_orders_off_skips_with_a_record_then_flipping_it_on_lets_the_next_order_flow(world):
    world.set_switch(101, "sync_orders", False)
    world.start_consumer("orders")

    world.post_shopify_order(shopify_order(order_id=7101))
    [skip] = world.read(topics.skipped(topics.CART_ORDERS), timeout=45)
    assert "Sync Orders is off" in skip["reason"]
    assert skip["event"]["payload"]["cart_order_id"] == "7101"
    assert skip["source"]["topic"] == world.prefix + topics.CART_ORDERS and skip["source"]["offset"] >= 0
    assert world.infoplus.orders == []

    world.set_switch(101, "sync_orders", True)
    time.sleep(2.5)  # the registry notices the file within connections_reload_seconds (2 s)
    world.post_shopify_order(shopify_order(order_id=7102))
    [created] = wait_for_orders(world, 1)
    assert created["customerOrderNo"] == "101-7102"


def test_sync_orders_kept_in_infoplus_is_read_from_infoplus(world):
    world.connections[0].update({"switches_from": "infoplus", "sync_orders": True})  # the file's value no longer counts
    world.write_connections()
    world.infoplus.add_connection(101, 10000, 55, sync_orders=False)
    world.overrides["INFOPLUS_SWITCHES_TTL_SECONDS"] = "1"
    world.start_consumer("orders")

    world.post_shopify_order(shopify_order(order_id=7151))
    [skip] = world.read(topics.skipped(topics.CART_ORDERS), timeout=45)
    assert "Sync Orders is off for connection 101" in skip["reason"]
    assert world.infoplus.orders == []

    world.infoplus.update_connection(101, syncOrders=True)
    time.sleep(1.5)  # the cached switches expire (INFOPLUS_SWITCHES_TTL_SECONDS=1)
    world.post_shopify_order(shopify_order(order_id=7152))
    [created] = wait_for_orders(world, 1)
    assert created["customerOrderNo"] == "101-7152"


def test_the_same_delivery_twice_makes_one_order(world):
    world.start_consumer("orders")
    order = shopify_order(order_id=7201)

    first = world.post_shopify_order(order, webhook_id="delivery-1")
    second = world.post_shopify_order(order, webhook_id="delivery-1")

    assert first.status_code == second.status_code == 202
    assert first.json()["event_ids"] == second.json()["event_ids"]
    wait_for_orders(world, 1)
    time.sleep(2)
    assert len(orders_for(world, 7201)) == 1


def test_the_same_order_under_a_new_delivery_id_makes_one_order(world):
    world.start_consumer("orders")
    order = shopify_order(order_id=7202)

    world.post_shopify_order(order, webhook_id="delivery-1")
    world.post_shopify_order(order, topic="orders/paid", webhook_id="delivery-2")

    wait_for_orders(world, 1)
    time.sleep(2)
    assert len(orders_for(world, 7202)) == 1


def test_unpaid_order_is_held_back_until_paid(world):
    world.start_consumer("orders")
    order = shopify_order(order_id=7203)
    order["financial_status"] = "pending"

    world.post_shopify_order(order)
    [skip] = world.read(topics.skipped(topics.CART_ORDERS), timeout=45)
    assert "not paid" in skip["reason"] and world.infoplus.orders == []

    order["financial_status"] = "paid"
    world.post_shopify_order(order, topic="orders/paid")
    wait_for_orders(world, 1)


def test_an_order_already_fulfilled_in_shopify_is_not_created(world):
    world.start_consumer("orders")
    order = {**shopify_order(order_id=7204), "fulfillment_status": "fulfilled"}  # the merchant shipped it

    world.post_shopify_order(order, topic="orders/updated")
    [skip] = world.read(topics.skipped(topics.CART_ORDERS), timeout=45)
    assert "already fulfilled in the cart" in skip["reason"] and world.infoplus.orders == []

    world.post_shopify_order({**shopify_order(order_id=7205), "fulfillment_status": "partial"})
    [created] = wait_for_orders(world, 1)  # partly fulfilled: still sent (docs/orders.md)
    assert created["customerOrderNo"] == "101-7205"


def test_consumer_killed_mid_stream_and_restarted_creates_every_order_exactly_once(world):
    world.infoplus.delay(0.15, path_regex=ORDER_PATH)  # keep the consumer busy when the kill lands
    consumer = world.start_consumer("orders")
    ids = list(range(7300, 7330))
    for cart_order_id in ids:
        assert world.post_shopify_order(shopify_order(order_id=cart_order_id)).status_code == 202

    eventually(lambda: len(world.infoplus.orders) >= 5, 45, message="first orders before the kill")
    consumer.kill()
    assert len(world.infoplus.orders) < len(ids), "the kill must land mid-stream"
    world.infoplus.delay(0)
    world.start_consumer("orders")

    eventually(lambda: len(world.infoplus.orders) >= len(ids), 60, message="all orders after restart")
    time.sleep(2)
    assert sorted(o["customerOrderNo"] for o in world.infoplus.orders) == sorted(f"101-{i}" for i in ids)


def test_infoplus_answering_500s_and_429s_for_a_while_still_gets_every_order_exactly_once(world):
    world.infoplus.fail_next(3, status=500, path_regex=ORDER_PATH)
    world.infoplus.fail_next(2, status=429, retry_after=1, path_regex=ORDER_PATH)
    world.infoplus.fail_next(2, status=503, path_regex=r"/order/search")
    world.start_consumer("orders")
    ids = list(range(7400, 7405))
    for cart_order_id in ids:
        world.post_shopify_order(shopify_order(order_id=cart_order_id))

    eventually(lambda: len(world.infoplus.orders) >= len(ids), 60, message="all orders despite faults")
    time.sleep(2)
    assert sorted(o["customerOrderNo"] for o in world.infoplus.orders) == sorted(f"101-{i}" for i in ids)
    assert world.read(topics.dead_letters(topics.CART_ORDERS), expect=0, timeout=2) == []


def test_an_order_infoplus_rejects_is_dead_lettered_with_a_structured_reason(world):
    world.infoplus.known_skus = {10000: {"SKU-1"}}
    world.start_consumer("orders")

    world.post_shopify_order(shopify_order(order_id=7501, skus=["NOT-IN-INFOPLUS"]))
    world.post_shopify_order(shopify_order(order_id=7502, skus=["SKU-1"]))

    [dead] = world.read(topics.dead_letters(topics.CART_ORDERS), timeout=45)
    assert dead["error"]["status"] == 422
    assert "NOT-IN-INFOPLUS" in str(dead["error"]["body"])
    assert dead["attempts"] == 1 and dead["event"]["payload"]["cart_order_id"] == "7501"
    assert dead["source"]["topic"] == world.prefix + topics.CART_ORDERS
    [created] = wait_for_orders(world, 1)
    assert created["customerOrderNo"] == "101-7502"


def test_sigterm_finishes_and_exits_cleanly(world):
    consumer = world.start_consumer("orders")
    world.post_shopify_order(shopify_order(order_id=7601))
    wait_for_orders(world, 1)

    assert consumer.terminate(timeout=20) == 0
    assert "consumer stopped" in consumer.output()


def test_a_consumer_started_before_kafka_answers_waits_and_still_stops_cleanly(world):
    world.overrides["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"  # nothing listens there
    consumer = world.start_consumer("orders")

    eventually(lambda: "Kafka not ready" in consumer.output(), 30, message="the consumer says it waits")

    assert consumer.running(), consumer.output()
    assert consumer.terminate(timeout=20) == 0
