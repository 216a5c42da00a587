"""Issue 6 end to end: changes made in the Infoplus stand-in reach the cart stand-ins with no push call at all —
poller -> Kafka -> consumers -> carts — and the sync switches are read from Infoplus."""
from __future__ import annotations

import time

import pytest

from events import topics
from tests.consumers.tracking_support import LOB, SOURCE, infoplus_order
from tests.support.world import eventually

WAIT = 60


@pytest.fixture
def world(world):
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.5", "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "60",
                            "INFOPLUS_SWITCHES_TTL_SECONDS": "1"})
    return world


def switches_in_infoplus(world, **switches: bool) -> None:
    """Connection 101 takes its switches from the Infoplus ShoppingCartConnection record."""
    world.infoplus.add_connection(101, LOB, SOURCE, **switches)
    world.connections[0].update({"switches_from": "infoplus", "sync_orders": False, "sync_inventory": False,
                                 "sync_tracking_data": False})
    world.write_connections()


def ship(world, cart_order_id: int, tracking_no: str) -> None:
    world.shopify.add_order(cart_order_id, [{"sku": "SKU-1", "quantity": 1}])
    order = infoplus_order(world, cart_order_id, {"SKU-1": 1})
    world.infoplus.add_shipment(order["orderNo"], tracking_no, "UPS", lob_id=LOB)


def test_a_shipment_made_in_infoplus_becomes_a_fulfillment_without_any_push(world):
    world.set_switch(101, "sync_tracking_data", True)
    world.start_poller()
    world.start_consumer("tracking")

    ship(world, 9101, "1Z-POLLED-1")

    [fulfillment] = eventually(lambda: world.shopify.fulfillments(9101), WAIT, message="fulfillment")
    assert [info["number"] for info in fulfillment["trackingInfo"]] == ["1Z-POLLED-1"]


def test_an_orderable_quantity_changed_in_infoplus_shows_in_the_cart(world):
    world.set_switch(101, "sync_inventory", True)
    world.shopify.add_variant("SKU-1", quantity=3)
    world.infoplus.add_item(LOB, "SKU-1", 3)
    world.start_poller()
    world.start_consumer("inventory")

    world.infoplus.set_orderable(LOB, "SKU-1", 17)

    eventually(lambda: world.shopify.available("SKU-1") == 17, WAIT, message="Shopify shows 17")


def test_sync_tracking_flipped_in_infoplus_skips_then_flows_again(world):
    switches_in_infoplus(world, sync_tracking_data=False)
    world.start_poller()
    world.start_consumer("tracking")

    ship(world, 9201, "1Z-OFF")
    [skip] = world.read(topics.skipped(topics.INFOPLUS_SHIPMENTS), timeout=WAIT)
    assert "Sync Tracking Data is off" in skip["reason"]
    assert world.shopify.fulfillments(9201) == []

    world.infoplus.set_switch(101, "syncTrackingData", True)
    time.sleep(1.5)  # the cached switches expire (INFOPLUS_SWITCHES_TTL_SECONDS=1)
    ship(world, 9202, "1Z-ON")
    eventually(lambda: world.shopify.fulfillments(9202), WAIT, message="fulfillment after the flip")
    assert world.shopify.fulfillments(9201) == []


def test_sync_inventory_turned_on_starts_a_full_resync_by_itself(world):
    for sku, quantity in (("SKU-1", 11), ("SKU-2", 22), ("SKU-3", 0)):
        world.shopify.add_variant(sku, quantity=5)
        world.infoplus.add_item(LOB, sku, quantity)
    world.start_poller()
    time.sleep(3)
    assert world.shopify.available("SKU-1") == 5  # switch off: the cart is left alone

    world.set_switch(101, "sync_inventory", True)

    eventually(lambda: [world.shopify.available(s) for s in ("SKU-1", "SKU-2", "SKU-3")] == [11, 22, 0], WAIT,
               message="every item of the LOB in the cart")


def test_five_429s_in_a_row_delay_a_stock_change_by_seconds_not_poll_intervals(world):
    interval = 10.0  # each 429 used to end the cycle: five in a row cost five intervals (50 s here)
    world.overrides["INFOPLUS_POLL_SECONDS"] = str(interval)
    world.set_switch(101, "sync_inventory", True)
    world.shopify.add_variant("SKU-1", quantity=3)
    world.infoplus.add_item(LOB, "SKU-1", 3)
    poller = world.start_poller()
    world.start_consumer("inventory")
    eventually(lambda: "published 1 inventory events" in poller.output(), WAIT, message="first cycle")
    eventually(lambda: "resync of connection 101:" in poller.output(), WAIT,
               message="the resync that Sync Inventory on starts is over (it reads items too)")

    world.infoplus.fail_next(5, 429, retry_after=1, path_regex=r"item/search")
    world.infoplus.set_orderable(LOB, "SKU-1", 17)
    changed_at = time.monotonic()

    # the next cycle starts within one interval; five 1 s waits inside it, then the write: one interval + 5 s,
    # with room for a shared machine — far below the five intervals it took before
    eventually(lambda: world.shopify.available("SKU-1") == 17, interval + 5 + 10, message="Shopify shows 17")
    assert world.infoplus.count("GET", r"item/search") >= 6  # the five refused asks and the one that answered
    assert poller.output().count("asking again in 1.0 s") == 5
    print(f"stock change reached the cart {time.monotonic() - changed_at:.1f} s after it was made")


def test_polled_shipments_of_several_orders_cost_one_order_page_not_a_get_each(world):
    world.set_switch(101, "sync_tracking_data", True)
    for n in range(3):
        ship(world, 9301 + n, f"1Z-AHEAD-{n}")  # all in Infoplus before the first poll: one page of shipments
    world.start_poller()
    world.start_consumer("tracking")

    for n in range(3):
        eventually(lambda: world.shopify.fulfillments(9301 + n), WAIT, message=f"fulfillment {n}")
    gets = world.infoplus.count("GET", r"/order/\d")
    pages = [call for call in world.infoplus.calls if call.path.endswith("order/search")]
    assert gets == 0, "each shipment's order was read one by one"
    assert len(pages) == 1  # the poller's read-ahead page; tracking needed no family search either
