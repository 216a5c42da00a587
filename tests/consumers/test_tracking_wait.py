"""A carton Infoplus wrote before its order shows shipped: the tracking consumer waits and looks again (on
infoplus.shipments.retry), the partition's other shipments keep flowing, and once the order shows shipped the
fulfillment reaches the cart exactly once — no replay by anyone. Past the bound: one dead letter with the reason."""
from __future__ import annotations

import time

import pytest

from events import topics
from tests.consumers.tracking_support import WAIT, dead_letters, enable_tracking, infoplus_order, push
from tests.support.world import eventually


@pytest.fixture
def world(world):
    # One partition, so the waiting carton and the other order's carton share it.
    world.overrides.update({"KAFKA_TOPIC_PARTITIONS": "1", "DEFER_FIRST_DELAY_SECONDS": "0.5",
                            "DEFER_MAX_DELAY_SECONDS": "1"})
    enable_tracking(world)
    return world


def order_with_carton(world, cart_order_id: int, *, shipped: bool) -> tuple[dict, dict]:
    """An Infoplus order and one carton; `shipped=False`: the carton exists, the order's lines show nothing yet."""
    world.shopify.add_order(cart_order_id, [{"sku": "SKU-1", "quantity": 1}])
    order = infoplus_order(world, cart_order_id, {"SKU-1": 1})
    carton = world.infoplus.add_shipment(order["orderNo"], f"1Z{cart_order_id}", "UPS",
                                         line_items=None if shipped else {})
    return order, carton


def started_tracking(world):
    consumer = world.start_consumer("tracking")
    eventually(lambda: "assigned [" in consumer.output() and ".retry[0]" in consumer.output(), WAIT,
               message="tracking consumer assigned its partitions")
    return consumer


def test_a_carton_seen_before_its_order_ships_waits_and_then_becomes_one_fulfillment(world):
    early_order, early_carton = order_with_carton(world, 5101, shipped=False)
    _, other_carton = order_with_carton(world, 5102, shipped=True)
    consumer = started_tracking(world)

    push(world, early_carton)
    eventually(lambda: consumer.output().count("deferred event_id=") >= 2, WAIT, message="looked at twice")
    push(world, other_carton)  # same partition, behind the waiting carton
    eventually(lambda: world.shopify.fulfillments(5102), WAIT, message="the other order flows meanwhile")
    assert world.shopify.fulfillments(5101) == []

    world.infoplus.ship_order_lines(early_order["orderNo"], {"SKU-1": 1})  # Infoplus confirms shipping

    [fulfillment] = eventually(lambda: world.shopify.fulfillments(5101), WAIT, message="fulfillment after shipping")
    assert [info["number"] for info in fulfillment["trackingInfo"]] == ["1Z5101"]
    time.sleep(2)  # any second look or copy would have landed by now
    assert len(world.shopify.fulfillments(5101)) == 1
    assert dead_letters(world, expect=0) == []


def test_a_carton_whose_order_never_ships_is_dead_lettered_once_after_the_bound(world):
    world.overrides["TRACKING_WAIT_FOR_SHIPPED_SECONDS"] = "3"
    _, carton = order_with_carton(world, 5103, shipped=False)
    started_tracking(world)

    [event_id] = push(world, carton)

    [letter] = dead_letters(world, expect=1)
    assert "none of its lines reports a shipped quantity yet" in letter["reason"]
    assert "still so after" in letter["reason"]
    assert letter["event"]["event_id"] == event_id
    assert letter["source"]["topic"] == world.prefix + topics.INFOPLUS_SHIPMENTS  # replay puts it back there
    time.sleep(2)
    assert len(dead_letters(world, expect=1)) == 1
    assert world.shopify.fulfillments(5103) == []
