"""Infoplus stock level -> Kafka -> inventory consumer (a real process) -> the cart stand-ins (real HTTP)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from events import topics
from events.infoplus import inventory_event
from events.publisher import Publisher
from sandbox.bigcommerce import BigCommerceStandIn
from sandbox.woocommerce import WooCommerceStandIn
from schemas.infoplus import InventoryLevel
from signing import StandardWebhooks
from tests.support.world import eventually

LOB = 10000
PUSH_SECRET = "whsec_dGVzdC1pbmZvcGx1cy1wdXNoLXNlY3JldA=="
SET_QUANTITIES = "inventorySetQuantities"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


# -- fixtures and helpers ----------------------------------------------------------------------------------------
@pytest.fixture
def publisher(world):
    settings = world.settings()
    topics.ensure_topics(settings, [topics.INFOPLUS_INVENTORY])  # 3 partitions, as the consumer would make it
    publisher = Publisher(settings)
    yield publisher
    publisher.close()


def woo_connection(standin: WooCommerceStandIn, connection_id: int, **fields) -> dict:
    return {"id": connection_id, "name": f"Woo {connection_id}", "platform": "woocommerce",
            "store_url": standin.store_url, "lob_id": LOB, "order_source_id": 56, "warehouse_id": 1000,
            "default_carrier_id": 1, "webhook_secret": f"woo-webhook-secret-{connection_id}", "consumer_key": standin.consumer_key,
            "consumer_secret": standin.consumer_secret, "sync_inventory": True, **fields}


def bigcommerce_connection(standin: BigCommerceStandIn, connection_id: int, **fields) -> dict:
    return {"id": connection_id, "name": f"BigCommerce {connection_id}", "platform": "bigcommerce",
            "store_hash": standin.store_hash, "api_base_url": standin.api_base_url, "lob_id": LOB,
            "order_source_id": 57, "warehouse_id": 1000, "default_carrier_id": 1, "webhook_secret": "bc-client-secret-shared",
            "access_token": standin.access_token, "location_id": "1", "sync_inventory": True, **fields}


def use_connections(world, *connections: dict) -> None:
    world.connections = list(connections)
    world.write_connections()


def publish(publisher: Publisher, sku: str, quantity: int, *, at: datetime = T0, backorder: bool = False) -> None:
    """What the web tier or the poller publishes for one Infoplus Item."""
    level = InventoryLevel(lob_id=LOB, sku=sku, orderable_quantity=quantity, backorder=backorder,
                           modified_at=at.isoformat())
    topic, key, envelope = inventory_event(level, None, "infoplus")
    publisher.publish(topic, key, envelope)


def shopify_sets(world) -> int:
    return sum(1 for call in world.shopify.calls if SET_QUANTITIES in (call.json or {}).get("query", ""))


def skipped_records(world, expect: int) -> list[dict]:
    return world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=expect, timeout=45)


def woo_stock(standin: WooCommerceStandIn, sku: str):
    return standin.product(sku)["stock_quantity"]


# -- tests -------------------------------------------------------------------------------------------------------
def test_a_pushed_quantity_reaches_every_cart_with_sync_inventory_on_and_skips_the_others(world, woo, bigc):
    with WooCommerceStandIn() as woo_off:
        world.shopify.add_variant("SKU-1", quantity=5)
        woo.add_product("SKU-1", stock_quantity=5)
        bigc.add_variant("SKU-1", quantity=5)
        woo_off.add_product("SKU-1", stock_quantity=5)
        use_connections(world, world.shopify_connection(sync_inventory=True), woo_connection(woo, 102),
                        bigcommerce_connection(bigc, 103), woo_connection(woo_off, 104, sync_inventory=False))
        world.overrides["INFOPLUS_WEBHOOK_SECRET"] = PUSH_SECRET
        world.start_consumer("inventory")

        item = {"lobId": LOB, "sku": "SKU-1", "orderableQuantity": 42, "backorder": "No",
                "modifyDate": "2026-11-27T10:00:00.000Z", "itemDescription": "Widget"}
        body = json.dumps([item]).encode()
        assert world.post("/webhooks/infoplus/inventory", body, _signed(body)).status_code == 202

        eventually(lambda: world.shopify.available("SKU-1") == 42, 60, message="Shopify shows 42")
        eventually(lambda: woo_stock(woo, "SKU-1") == 42, 60, message="WooCommerce shows 42")
        eventually(lambda: bigc.inventory("SKU-1") == 42, 60, message="BigCommerce shows 42")
        [skip] = skipped_records(world, expect=1)
        assert skip["connection_id"] == 104 and skip["code"] == "sync_off"
        assert "Sync Inventory is off for connection 104" in skip["reason"]
        assert skip["event"]["payload"]["sku"] == "SKU-1"
        assert woo_stock(woo_off, "SKU-1") == 5
        assert woo_off.count() == 0
        assert woo.product("SKU-1")["manage_stock"] is True and woo.product("SKU-1")["backorders"] == "no"
        assert world.shopify.variant("SKU-1")["inventoryPolicy"] == "DENY"
        assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0) == []


def _signed(body: bytes) -> dict:
    timestamp, message_id = int(time.time()), "msg_1"
    signature = StandardWebhooks.from_secret(PUSH_SECRET).sign(message_id, timestamp, body)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature,
            "Content-Type": "application/json"}


def test_backorder_item_at_zero_stays_sellable_unless_the_connection_stops_sales_at_zero(world, woo, publisher):
    with WooCommerceStandIn() as woo_stop:
        world.shopify.add_variant("SKU-B", quantity=3, inventory_policy="DENY")
        woo.add_product("SKU-B", stock_quantity=3)
        woo_stop.add_product("SKU-B", stock_quantity=3, backorders="notify")
        use_connections(world, world.shopify_connection(sync_inventory=True), woo_connection(woo, 102),
                        woo_connection(woo_stop, 103, stop_sales_at_zero=True))
        world.start_consumer("inventory")

        publish(publisher, "SKU-B", 0, backorder=True)

        eventually(lambda: world.shopify.variant("SKU-B")["inventoryPolicy"] == "CONTINUE", 60,
                   message="Shopify keeps selling at zero")
        assert world.shopify.available("SKU-B") == 0
        eventually(lambda: woo_stock(woo, "SKU-B") == 0 and woo_stock(woo_stop, "SKU-B") == 0, 60)
        sellable, stopped = woo.product("SKU-B"), woo_stop.product("SKU-B")
        assert (sellable["backorders"], sellable["stock_status"]) == ("notify", "onbackorder")
        assert (stopped["backorders"], stopped["stock_status"]) == ("no", "outofstock")

        publish(publisher, "SKU-B", 0, at=T0 + timedelta(minutes=1), backorder=False)  # Backorder turned off
        eventually(lambda: world.shopify.variant("SKU-B")["inventoryPolicy"] == "DENY", 60)
        eventually(lambda: woo.product("SKU-B")["backorders"] == "no", 60)


def test_an_event_older_than_the_applied_one_is_dropped_so_the_newest_value_stays(world, publisher):
    world.shopify.add_variant("SKU-O", quantity=1)
    use_connections(world, world.shopify_connection(sync_inventory=True))
    world.start_consumer("inventory")

    publish(publisher, "SKU-O", 20, at=T0 + timedelta(minutes=5))
    eventually(lambda: world.shopify.available("SKU-O") == 20, 60)
    publish(publisher, "SKU-O", 10, at=T0)  # arrives late: Infoplus changed it at 10:00, then again at 10:05

    [skip] = skipped_records(world, expect=1)
    assert skip["code"] == "stale" and "older than" in skip["reason"]
    assert world.shopify.available("SKU-O") == 20
    assert shopify_sets(world) == 1


def test_a_burst_of_100_updates_for_one_sku_costs_far_fewer_cart_calls_and_ends_on_the_last_value(world, publisher):
    world.shopify.add_variant("SKU-H", quantity=0)
    use_connections(world, world.shopify_connection(sync_inventory=True))
    world.start_consumer("inventory")
    publish(publisher, "SKU-H", 1)  # warm up: the consumer has joined its group and cached the variant
    eventually(lambda: world.shopify.available("SKU-H") == 1, 60)
    before = shopify_sets(world)

    for n in range(1, 101):  # one acknowledged publish after another, as pushes or a poller would send them
        publish(publisher, "SKU-H", 1000 + n, at=T0 + timedelta(seconds=n))

    eventually(lambda: world.shopify.available("SKU-H") == 1100, 60, message="the last value lands")
    time.sleep(2)  # nothing more arrives afterwards, and nothing overwrites the last value
    calls = shopify_sets(world) - before
    assert world.shopify.available("SKU-H") == 1100
    assert 1 <= calls <= 20, f"{calls} inventorySetQuantities calls for 100 updates"


def test_a_sku_the_cart_does_not_sell_is_skipped_and_counted_never_dead_lettered(world, woo, publisher):
    use_connections(world, world.shopify_connection(sync_inventory=True), woo_connection(woo, 102))
    consumer = world.start_consumer("inventory")

    publish(publisher, "NOT-SOLD", 7)
    skipped_records(world, expect=2)
    publish(publisher, "NOT-SOLD", 8, at=T0 + timedelta(minutes=1))
    skips = skipped_records(world, expect=4)

    assert sorted((s["connection_id"], s["code"]) for s in skips) == [(101, "not_in_cart")] * 2 + [
        (102, "not_in_cart")] * 2
    assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0) == []
    assert woo.count("GET", r"/products$") == 1, "the miss is cached: one lookup for both events"
    assert consumer.terminate() == 0
    assert "skipped.not_in_cart=4" in consumer.output()


def test_a_cart_429_is_retried_after_retry_after_and_the_value_lands_once(world, woo, publisher):
    world.shopify.add_variant("SKU-R", quantity=0)
    woo.add_product("SKU-R", stock_quantity=0)
    use_connections(world, world.shopify_connection(sync_inventory=True), woo_connection(woo, 102))
    woo.fail_next(1, status=429, retry_after=2, path_regex=r"/products/\d+$")
    consumer = world.start_consumer("inventory")

    publish(publisher, "SKU-R", 9)

    eventually(lambda: woo_stock(woo, "SKU-R") == 9, 60, message="WooCommerce shows 9 after the retry")
    time.sleep(1)
    assert [c.status for c in woo.calls if c.method == "PUT"] == [429, 200]
    assert world.shopify.available("SKU-R") == 9
    assert shopify_sets(world) == 1, "the retry does not write again to the cart that already had it"
    assert "in 2.0s" in consumer.output()


def test_shopify_throttling_is_retried_and_the_value_lands(world, publisher):
    world.shopify.add_variant("SKU-T", quantity=0)
    use_connections(world, world.shopify_connection(sync_inventory=True))
    world.shopify.throttle_next(2)
    world.start_consumer("inventory")

    publish(publisher, "SKU-T", 4)

    eventually(lambda: world.shopify.available("SKU-T") == 4, 60)
    assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0) == []


def test_turning_sync_inventory_on_applies_to_events_already_queued(world, publisher):
    world.shopify.add_variant("SKU-Q", quantity=2)
    use_connections(world, world.shopify_connection(sync_inventory=False))
    world.start_consumer("inventory")
    publish(publisher, "SKU-Q", 30)
    [skip] = skipped_records(world, expect=1)
    assert skip["code"] == "sync_off" and world.shopify.available("SKU-Q") == 2

    world.set_switch(101, "sync_inventory", True)
    time.sleep(2.5)  # the registry notices the file within connections_reload_seconds (2 s)
    publish(publisher, "SKU-Q", 31, at=T0 + timedelta(minutes=1))
    eventually(lambda: world.shopify.available("SKU-Q") == 31, 60)


def test_sync_inventory_kept_in_infoplus_is_read_from_infoplus(world, publisher):
    world.shopify.add_variant("SKU-I", quantity=2)
    use_connections(world, world.shopify_connection(sync_inventory=False, switches_from="infoplus"))
    world.infoplus.add_connection(101, LOB, 55, sync_inventory=True)  # on in Infoplus; the file's off is ignored
    world.start_consumer("inventory")

    publish(publisher, "SKU-I", 12)
    eventually(lambda: world.shopify.available("SKU-I") == 12, 60)
    assert world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=0) == []


def test_many_skus_arriving_together_are_written_in_a_few_bulk_calls_per_cart(world, woo, bigc, publisher):
    skus = [f"SKU-M{n:02d}" for n in range(60)]
    for sku in skus[:55]:  # the last five are sold nowhere
        world.shopify.add_variant(sku, quantity=0)
        woo.add_product(sku, stock_quantity=0)
        bigc.add_variant(sku, quantity=0)
    use_connections(world, world.shopify_connection(sync_inventory=True), woo_connection(woo, 102),
                    bigcommerce_connection(bigc, 103))
    world.start_consumer("inventory")
    publish(publisher, skus[0], 1)  # the consumer is up and has joined its group
    eventually(lambda: world.shopify.available(skus[0]) == 1, 60)

    events = [inventory_event(InventoryLevel(LOB, sku, 100 + n, False, T0.isoformat()), None, "infoplus")
              for n, sku in enumerate(skus)]
    publisher.publish_many(topics.INFOPLUS_INVENTORY, [(key, envelope) for _, key, envelope in events])

    expected = {sku: 100 + n for n, sku in enumerate(skus[:55])}
    eventually(lambda: all(world.shopify.available(s) == q and woo_stock(woo, s) == q and bigc.inventory(s) == q
                           for s, q in expected.items()), 60, message="every SKU in every cart")
    skips = skipped_records(world, expect=15)
    assert sorted({s["event"]["payload"]["sku"] for s in skips}) == skus[55:]
    assert {s["code"] for s in skips} == {"not_in_cart"}
    assert shopify_sets(world) <= 1 + 12, "one per poll batch, not one per SKU"
    assert woo.count("POST", r"/batch$") <= 12 and woo.count("PUT") <= 1
    assert bigc.count("PUT", r"adjustments/absolute") <= 1 + 12


def test_a_throttle_in_the_middle_of_a_large_batch_still_lands_every_sku(world, publisher):
    skus = [f"SKU-L{n:03d}" for n in range(300)]
    for sku in skus:
        world.shopify.add_variant(sku, quantity=0)
    use_connections(world, world.shopify_connection(sync_inventory=True))
    world.start_consumer("inventory")
    publish(publisher, skus[0], 1)
    eventually(lambda: world.shopify.available(skus[0]) == 1, 60)

    world.shopify.throttle_next(2)  # the bulk write and then one event's own write are refused
    events = [inventory_event(InventoryLevel(LOB, sku, 500 + n, False, T0.isoformat()), None, "infoplus")
              for n, sku in enumerate(skus)]
    publisher.publish_many(topics.INFOPLUS_INVENTORY, [(key, envelope) for _, key, envelope in events])

    expected = {sku: 500 + n for n, sku in enumerate(skus)}
    eventually(lambda: all(world.shopify.available(s) == q for s, q in expected.items()), 60,
               message="every SKU after the throttle")


def test_a_bigcommerce_location_written_as_1_starts_every_process_and_is_sent_as_the_number_1(world, bigc):
    bigc.add_variant("SKU-1", quantity=5)
    use_connections(world, bigcommerce_connection(bigc, 103, location_id=1))
    assert "location_id: 1\n" in world.connections_path.read_text()  # unquoted, as anyone writes it
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = PUSH_SECRET
    processes = [world.start_consumer(kind) for kind in ("orders", "inventory", "tracking", "woocommerce_reconcile")]
    processes.append(world.start_poller())

    item = {"lobId": LOB, "sku": "SKU-1", "orderableQuantity": 42, "backorder": "No",
            "modifyDate": "2026-11-27T10:00:00.000Z"}
    body = json.dumps(item).encode()
    assert world.post("/webhooks/infoplus/inventory", body, _signed(body)).status_code == 202

    eventually(lambda: bigc.inventory("SKU-1") == 42, 60, message="BigCommerce shows 42")
    [write] = [call.json for call in bigc.calls if call.method == "PUT" and "adjustments/absolute" in call.path]
    assert [item["location_id"] for item in write["items"]] == [1]  # a JSON number, as BigCommerce's v3 expects
    assert [p.running() for p in processes] == [True] * len(processes), world.process_logs()


# -- state kept across restarts (consumers/state.py) ---------------------------------------------------------------
def test_an_older_level_after_a_restart_never_overwrites_the_newer_one(world, publisher):
    world.shopify.add_variant("SKU-1", quantity=1)
    use_connections(world, world.shopify_connection(sync_inventory=True))
    first = world.start_consumer("inventory")
    publish(publisher, "SKU-1", 10, at=T0 + timedelta(minutes=10))
    eventually(lambda: world.shopify.available("SKU-1") == 10, 60, message="Shopify shows 10")
    assert first.terminate() == 0

    second = world.start_consumer("inventory")  # restores what was applied
    publish(publisher, "SKU-1", 5, at=T0)  # older, delivered late

    [skip] = skipped_records(world, expect=1)
    assert skip["code"] == "stale" and "older than" in skip["reason"]
    assert world.shopify.available("SKU-1") == 10
    assert "restored:" in second.output()


def test_the_same_level_twice_costs_one_cart_write_even_across_a_restart(world, publisher):
    world.shopify.add_variant("SKU-1", quantity=1)
    use_connections(world, world.shopify_connection(sync_inventory=True))
    first = world.start_consumer("inventory")
    publish(publisher, "SKU-1", 7, at=T0)
    eventually(lambda: world.shopify.available("SKU-1") == 7, 60, message="Shopify shows 7")
    assert first.terminate() == 0

    second = world.start_consumer("inventory")
    publish(publisher, "SKU-1", 7, at=T0 + timedelta(minutes=1))  # a newer event, the same level
    eventually(lambda: "already applied" in second.output(), 60, message="the second event handled")

    assert shopify_sets(world) == 1
