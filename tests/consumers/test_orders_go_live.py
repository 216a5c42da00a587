"""The go-live guard (`orders_since`): a cart re-sending an order placed before go-live (an edit, an archive, a
reconciliation sweep) must not make an Infoplus order; orders Infoplus already has keep their change handling.
Real broker, the orders consumer as a real process, the web endpoint and the cart / Infoplus stand-ins."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from sandbox.bigcommerce import rfc2822
from sandbox.sample import shopify_order, woocommerce_order
from sandbox.woocommerce import wc_date
from schemas.order import utc_iso
from tests.support.cart_orders import (BC_ID, WAIT, WOO_ID, bc, dead_letters, infoplus_orders, post_bc,  # noqa: F401
                                       post_woo, settle, skips, wait_for_order, woo)
from tests.support.world import eventually

SHOPIFY_ID = 101
SHOP_TZ = timezone(timedelta(hours=-5))


def set_orders_since(world, connection_id: int, value: str | None) -> None:
    entry = next(c for c in world.connections if c["id"] == connection_id)
    entry.pop("orders_since", None)
    if value is not None:
        entry["orders_since"] = value
    world.write_connections()


def yesterday() -> str:
    """A go-live date (midnight UTC) safely before anything the test creates "now"."""
    return (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()


def shop_time(moment: datetime) -> str:
    return moment.astimezone(SHOP_TZ).isoformat(timespec="seconds")


def old_shopify_order(order_id: int, *, days_ago: int = 90, **changes) -> dict:
    """An order placed months ago, as Shopify re-sends it today in `orders/updated`."""
    order = shopify_order(order_id=order_id)
    order["created_at"] = shop_time(datetime.now(timezone.utc) - timedelta(days=days_ago))
    return {**order, **changes}


def posted_event_id(response) -> str:
    assert response.status_code == 202, response.text
    [event_id] = response.json()["event_ids"]
    return event_id


def test_an_old_shopify_order_resent_after_go_live_is_skipped_and_a_new_one_is_created(world):
    go_live = yesterday()
    set_orders_since(world, SHOPIFY_ID, go_live)
    consumer = world.start_consumer("orders")
    old = old_shopify_order(8001)

    old_event = posted_event_id(world.post_shopify_order(old, topic="orders/updated"))
    world.post_shopify_order(shopify_order(order_id=8002))

    wait_for_order(world, SHOPIFY_ID, 8002)
    [skip] = skips(world, 8001)
    assert skip["reason"] == (f"order {old['name']} created {old['created_at']} is before orders_since "
                              f"{go_live}T00:00:00+00:00 of connection 101: not created in Infoplus")
    assert skip["event"]["event_id"] == old_event
    settle()
    assert infoplus_orders(world, SHOPIFY_ID, 8001) == []
    assert dead_letters(world, 8001, expect=0) == []
    assert any(f"skipped event_id={old_event}" in line and "orders_since" in line
               for line in consumer.output().splitlines()), consumer.output()


def test_an_order_already_in_infoplus_keeps_its_change_handling_once_orders_since_is_set(world):
    world.start_consumer("orders")
    placed = old_shopify_order(8101, updated_at=shop_time(datetime.now(timezone.utc) - timedelta(minutes=2)))
    world.post_shopify_order(placed)  # no guard yet: created as before go-live was configured
    wait_for_order(world, SHOPIFY_ID, 8101)

    set_orders_since(world, SHOPIFY_ID, yesterday())
    time.sleep(2.5)  # the registry notices the file within connections_reload_seconds (2 s); no restart
    now = shop_time(datetime.now(timezone.utc))
    world.post_shopify_order({**placed, "cancelled_at": now, "updated_at": now}, topic="orders/cancelled")
    world.post_shopify_order(old_shopify_order(8102), topic="orders/updated")

    [dead] = dead_letters(world, 8101)
    assert dead["reason"].startswith("ops must act") and dead["error"]["action"] == "cancel_in_infoplus"
    [skip] = skips(world, 8102)  # the edit did take effect in the running consumer
    assert "is before orders_since" in skip["reason"]
    assert skips(world, 8101, expect=0) == []
    assert len(infoplus_orders(world, SHOPIFY_ID, 8101)) == 1


def test_woocommerce_orders_are_judged_by_their_gmt_creation_time_against_a_go_live_with_an_offset(world, woo):
    now = datetime.now(timezone.utc)
    # An hour ago, written in the merchant's zone: read as UTC it would be five hours earlier and let
    # the two-hour-old order below through.
    go_live = (now - timedelta(hours=1)).astimezone(SHOP_TZ).isoformat(timespec="seconds")
    set_orders_since(world, WOO_ID, go_live)
    world.start_consumer("orders")
    before = now - timedelta(hours=2)

    post_woo(world, woocommerce_order(order_id=1201, date_created=wc_date(before), date_modified=wc_date(now)),
             topic="order.updated")
    post_woo(world, woocommerce_order(order_id=1202, date_created=wc_date(now)))

    wait_for_order(world, WOO_ID, 1202)
    [skip] = skips(world, 1201)
    assert f"created {utc_iso(before)} is before orders_since {go_live}" in skip["reason"]
    settle()
    assert infoplus_orders(world, WOO_ID, 1201) == []


def test_a_bigcommerce_order_fetched_for_an_update_is_judged_by_its_creation_date(world, bc):
    go_live = yesterday()
    set_orders_since(world, BC_ID, go_live)
    placed = datetime.now(timezone.utc) - timedelta(days=120)
    bc.add_order(order_id=2101, date_created=rfc2822(placed))  # modified now: an edit months later
    bc.add_order(order_id=2102)
    world.start_consumer("orders")

    post_bc(world, 2101, scope="store/order/updated")
    post_bc(world, 2102)

    wait_for_order(world, BC_ID, 2102)
    [skip] = skips(world, 2101)
    assert f"created {utc_iso(placed)} is before orders_since {go_live}T00:00:00+00:00" in skip["reason"]
    settle()
    assert infoplus_orders(world, BC_ID, 2101) == []


def test_a_bad_orders_since_stops_the_consumer_at_startup_naming_the_connection_and_the_field(world):
    set_orders_since(world, SHOPIFY_ID, "2026-13-01")

    consumer = world.start_consumer("orders")

    eventually(lambda: not consumer.running(), WAIT, message="the consumer refuses to start")
    assert "cannot start" in consumer.output()
    assert "connection 101 (Acme Shopify): field 'orders_since': '2026-13-01' is not an ISO 8601 date" \
        in consumer.output()
