"""Infoplus stock level -> Kafka -> inventory consumer (a real process) -> the Magento stand-in's MSI source items
(real HTTP, OAuth 1.0a checked by the stand-in)."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

import pytest

from events import topics
from sandbox.magento import MagentoStandIn
from events.infoplus import inventory_event
from schemas.infoplus import InventoryLevel
from tests.consumers.test_inventory import (LOB, T0, publish, publisher, skipped_records,  # noqa: F401
                                           use_connections)
from tests.consumers.test_orders_magento import magento_connection
from tests.support.world import eventually

SAVES = r"/inventory/source-items$"


@pytest.fixture
def magento() -> Iterator[MagentoStandIn]:
    with MagentoStandIn(bearer_allowed=False, store_codes=("us",), sources=("default", "east")) as store:
        yield store


def saves(store: MagentoStandIn) -> int:
    return store.count("POST", SAVES)


def quantity(store: MagentoStandIn, sku: str, source: str = "default"):
    item = store.source_item(sku, source)
    return item and (item["quantity"], item["status"])


def test_a_stock_change_is_one_source_item_write_and_an_unknown_sku_is_skipped(world, magento, publisher):
    magento.add_source_item("SKU-1", 5)
    use_connections(world, magento_connection(magento, sync_inventory=True))
    consumer = world.start_consumer("inventory")

    publish(publisher, "SKU-1", 42)
    eventually(lambda: quantity(magento, "SKU-1") == (42, 1), 60, message="Magento shows 42, in stock")
    assert saves(magento) == 1
    [body] = [call.json for call in magento.calls if call.method == "POST"]
    assert body == {"sourceItems": [{"sku": "SKU-1", "source_code": "default", "quantity": 42, "status": 1}]}

    publish(publisher, "NOT-SOLD", 7)
    [skip] = skipped_records(world, expect=1)
    assert (skip["connection_id"], skip["code"]) == (404, "not_in_cart")
    assert "no source item for SKU NOT-SOLD at source default" in skip["reason"]
    assert magento.source_item("NOT-SOLD") is None and saves(magento) == 1  # never assigned by cartbridge
    assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0) == []
    assert magento.auth_failures == [] and magento.oauth_requests >= 3
    assert consumer.terminate() == 0
    assert "skipped.not_in_cart=1" in consumer.output()


def test_zero_stock_stays_in_stock_for_backorder_items_unless_the_connection_stops_sales_at_zero(
        world, magento, publisher):
    with MagentoStandIn(bearer_allowed=False) as stopping:
        magento.add_source_item("SKU-B", 3)
        stopping.add_source_item("SKU-B", 3)
        use_connections(world, magento_connection(magento, sync_inventory=True),
                        magento_connection(stopping, 405, sync_inventory=True, stop_sales_at_zero=True))
        world.start_consumer("inventory")

        publish(publisher, "SKU-B", 0, backorder=True)
        eventually(lambda: quantity(magento, "SKU-B") == (0, 1) and quantity(stopping, "SKU-B") == (0, 0), 60,
                   message="sellable at zero in one store, out of stock in the other")

        publish(publisher, "SKU-B", 0, at=T0 + timedelta(minutes=1), backorder=False)  # Backorder turned off
        eventually(lambda: quantity(magento, "SKU-B") == (0, 0), 60)


def test_many_skus_arriving_together_go_in_a_few_bulk_saves_to_the_connections_source_and_store_view(
        world, magento, publisher):
    skus = [f"SKU-{n:02d}" for n in range(60)]
    for sku in skus:
        magento.add_source_item(sku, 0, source_code="east")
    magento.add_source_item("ONLY-DEFAULT", 9)  # assigned to another source: not this connection's
    use_connections(world, magento_connection(magento, sync_inventory=True, store_code="us", source_code="east"))
    world.start_consumer("inventory")
    publish(publisher, skus[0], 1)  # the consumer is up and has joined its group
    eventually(lambda: quantity(magento, skus[0], "east") == (1, 1), 60)

    publish_all(publisher, {sku: 100 + n for n, sku in enumerate(skus + ["ONLY-DEFAULT"])})

    eventually(lambda: all(quantity(magento, sku, "east") == (100 + n, 1) for n, sku in enumerate(skus)), 60,
               message="every SKU set at source east")
    [skip] = skipped_records(world, expect=1)
    assert skip["event"]["payload"]["sku"] == "ONLY-DEFAULT" and skip["code"] == "not_in_cart"
    assert quantity(magento, "ONLY-DEFAULT") == (9, 1) and magento.source_item("ONLY-DEFAULT", "east") is None
    assert saves(magento) <= 1 + 12, "one per poll batch, not one per SKU"
    assert all(call.path.startswith("/rest/us/V1/") for call in magento.calls)


def test_a_429_or_a_5xx_in_the_middle_of_a_batch_still_lands_every_sku(world, magento, publisher):
    skus = [f"SKU-T{n:02d}" for n in range(40)]
    for sku in skus:
        magento.add_source_item(sku, 0)
    use_connections(world, magento_connection(magento, sync_inventory=True))
    world.start_consumer("inventory")
    publish(publisher, skus[0], 1)
    eventually(lambda: quantity(magento, skus[0]) == (1, 1), 60)

    magento.fail_next(1, status=429, retry_after=1, path_regex=SAVES)  # the bulk save
    magento.fail_next(1, status=503, path_regex=SAVES)  # and then one event's own save
    publish_all(publisher, {sku: 500 + n for n, sku in enumerate(skus)})

    eventually(lambda: all(quantity(magento, sku) == (500 + n, 1) for n, sku in enumerate(skus)), 60,
               message="every SKU after the throttle")
    assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0) == []


def publish_all(publisher, levels: dict[str, int]) -> None:
    """Many items in one go, as a poller page would publish them."""
    events = [inventory_event(InventoryLevel(LOB, sku, quantity, False, T0.isoformat()), None, "infoplus")
              for sku, quantity in levels.items()]
    publisher.publish_many(topics.INFOPLUS_INVENTORY, [(key, envelope) for _, key, envelope in events])
