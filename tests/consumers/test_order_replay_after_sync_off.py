"""Replay is right, not only duplicate-free (issue 22, item 6): real broker, real orders consumer, real
`cartbridge-replay`.

An order paid (v1) and then cancelled (v2) while Sync Orders was off: the documented "switch on, replay
`cart.orders.skipped`" must not create the cancelled order in Infoplus — versions skipped with `sync_off` count as
seen, so v1 replayed after v2 was seen is stale, whether both are replayed or ops ticked only v1.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from events import topics
from sandbox.sample import shopify_order
from tests.events.test_replay import run_replay
from tests.support.cart_orders import infoplus_orders, settle, skips

SKIPPED = topics.skipped(topics.CART_ORDERS)
ORDER_ID = 8801


def paid_then_cancelled(order_id: int) -> tuple[dict, dict]:
    paid = shopify_order(order_id=order_id)
    later = (datetime.fromisoformat(paid["updated_at"]) + timedelta(minutes=5)).isoformat()
    cancelled = {**paid, "updated_at": later, "cancelled_at": later, "cancel_reason": "customer",
                 "financial_status": "refunded"}
    return paid, cancelled


def skipped_while_off(world, order_id: int) -> list[dict]:
    world.set_switch(101, "sync_orders", False)
    world.start_consumer("orders")
    for version, topic in zip(paid_then_cancelled(order_id), ("orders/paid", "orders/cancelled")):
        assert world.post_shopify_order(version, topic=topic).status_code == 202
    records = skips(world, order_id, expect=2)
    assert [r["code"] for r in records] == ["sync_off", "sync_off"]
    world.set_switch(101, "sync_orders", True)
    return records


def codes_after_replay(world, order_id: int, expect: int) -> list[str]:
    return [r["code"] for r in skips(world, order_id, expect=2 + expect)[2:]]


def test_replaying_both_skipped_versions_does_not_create_the_cancelled_order(world):
    skipped_while_off(world, ORDER_ID)
    settle(6)  # the switch's file edit reaches the consumer (connections reload)

    assert run_replay(world, "--connection", "101", side_topic=SKIPPED).returncode == 0

    assert sorted(codes_after_replay(world, ORDER_ID, expect=2)) == ["cancelled", "stale"]
    settle()
    assert infoplus_orders(world, 101, ORDER_ID) == []


def test_replaying_the_paid_version_alone_does_not_create_an_order_the_cart_cancelled(world):
    order_id = ORDER_ID + 1
    paid_skip, _ = skipped_while_off(world, order_id)
    settle(6)

    assert run_replay(world, "--event-id", paid_skip["event"]["event_id"], side_topic=SKIPPED).returncode == 0

    assert codes_after_replay(world, order_id, expect=1) == ["stale"]
    settle()
    assert infoplus_orders(world, 101, order_id) == []
