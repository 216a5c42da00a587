"""WooCommerce orders end to end: signed webhook -> Kafka -> orders consumer (a real process) -> Infoplus
stand-in; and reconciliation (a real process) finding orders whose webhook never arrived."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from events import topics
from schemas.order import parse_version
from sandbox.sample import woocommerce_order
from sandbox.woocommerce import wc_date
from tests.support.cart_orders import (WAIT, WOO_ID, dead_letters, infoplus_orders, post_woo, settle,  # noqa: F401
                                       skips, wait_for_order, woo)
from tests.support.world import eventually


def minutes_ago(minutes: int) -> str:
    return wc_date(datetime.now(timezone.utc) - timedelta(minutes=minutes))


def test_signed_order_becomes_one_infoplus_order_with_the_right_lines_and_address(world, woo):
    world.start_consumer("orders")
    order = woocommerce_order(order_id=1001, skus=["SKU-1", "SKU-2"], quantity=3, price="12.50")

    assert post_woo(world, order).status_code == 202

    created = wait_for_order(world, WOO_ID, 1001)
    settle()
    assert len(world.infoplus.orders) == 1
    assert created["customerOrderNo"] == "202-1001" and created["customerPONo"] == "#1001"
    assert created["lobId"] == 10000 and created["orderSourceId"] == 56 and created["warehouseId"] == 1000
    assert [(line["sku"], line["orderedQty"], line["unitSell"]) for line in created["lineItems"]] == [
        ("SKU-1", 3, 12.5), ("SKU-2", 3, 12.5)]
    ship = order["shipping"]
    assert (created["shipToStreet"], created["shipToCity"], created["shipToState"], created["shipToZip"],
            created["shipToCountry"]) == (ship["address_1"], ship["city"], ship["state"], ship["postcode"],
                                          ship["country"])
    assert created["shipToCompany"] == "Jane Doe"  # no company: the name is the first address line
    assert created["billToEmail"] == order["billing"]["email"]


def test_duplicate_deliveries_make_one_order(world, woo):
    world.start_consumer("orders")
    order = woocommerce_order(order_id=1002)

    for topic in ("order.created", "order.created", "order.updated"):  # a re-send, then the same version again
        assert post_woo(world, order, topic=topic).status_code == 202

    wait_for_order(world, WOO_ID, 1002)
    settle()
    assert len(infoplus_orders(world, WOO_ID, 1002)) == 1
    assert dead_letters(world, 1002, expect=0) == []


def test_stale_update_after_creation_is_ignored(world, woo):
    world.start_consumer("orders")
    newer = woocommerce_order(order_id=1003, skus=["SKU-1", "SKU-2"], date_modified=minutes_ago(1))
    older = woocommerce_order(order_id=1003, skus=["SKU-1"], date_modified=minutes_ago(5))  # before an edit

    post_woo(world, newer, topic="order.updated")
    wait_for_order(world, WOO_ID, 1003)
    post_woo(world, older, topic="order.updated")  # delivered late

    [skip] = skips(world, 1003)
    assert skip["reason"].startswith("stale")
    settle()
    [held] = infoplus_orders(world, WOO_ID, 1003)
    assert [line["sku"] for line in held["lineItems"]] == ["SKU-1", "SKU-2"]
    assert dead_letters(world, 1003, expect=0) == []  # not mistaken for an edit after creation


def test_stale_update_is_ignored_by_a_fresh_consumer_too(world, woo):
    first = world.start_consumer("orders")
    post_woo(world, woocommerce_order(order_id=1004, skus=["SKU-1", "SKU-2"], date_modified=minutes_ago(1)))
    wait_for_order(world, WOO_ID, 1004)
    assert first.terminate() == 0
    world.start_consumer("orders")  # restores the order's state from the state store
    searches = world.infoplus.count("GET", r"order/search")

    post_woo(world, woocommerce_order(order_id=1004, skus=["SKU-1"], date_modified=minutes_ago(5)),
             topic="order.updated")

    [skip] = skips(world, 1004)
    assert skip["reason"].startswith("stale") and "already handled" in skip["reason"]
    assert dead_letters(world, 1004, expect=0) == []
    assert world.infoplus.count("GET", r"order/search") == searches  # decided from the state, not Infoplus


def test_an_older_paid_snapshot_after_a_cancellation_does_not_create_the_order(world, woo):
    world.start_consumer("orders")
    cancelled = woocommerce_order(order_id=1005, status="cancelled", date_modified=minutes_ago(1))
    paid_before = woocommerce_order(order_id=1005, status="processing", date_modified=minutes_ago(3))

    post_woo(world, cancelled, topic="order.updated")
    post_woo(world, paid_before, topic="order.updated")  # out of order

    first, second = skips(world, 1005, expect=2)
    assert "cancelled in the cart before it reached Infoplus" in first["reason"]
    assert second["reason"].startswith("stale")
    assert infoplus_orders(world, WOO_ID, 1005) == []


def test_unpaid_order_is_held_back_until_woocommerce_reports_it_paid(world, woo):
    world.start_consumer("orders")
    pending = woocommerce_order(order_id=1006, status="pending", date_modified=minutes_ago(2))

    post_woo(world, pending)
    [skip] = skips(world, 1006)
    assert "not paid yet" in skip["reason"] and "pending" in skip["reason"]
    assert infoplus_orders(world, WOO_ID, 1006) == []

    paid = woocommerce_order(order_id=1006, status="processing", date_modified=minutes_ago(0))
    post_woo(world, paid, topic="order.updated")
    wait_for_order(world, WOO_ID, 1006)


def test_an_order_already_completed_in_woocommerce_is_not_created(world, woo):
    world.start_consumer("orders")

    post_woo(world, woocommerce_order(order_id=1007, status="completed", date_modified=minutes_ago(0)),
             topic="order.updated")
    [skip] = skips(world, 1007)
    assert "already fulfilled in the cart" in skip["reason"]
    assert infoplus_orders(world, WOO_ID, 1007) == []


# -- reconciliation ----------------------------------------------------------------------------------------
def reconcile_every_second(world) -> None:
    world.overrides["WOOCOMMERCE_RECONCILE_SECONDS"] = "1"


def test_reconciliation_finds_an_order_whose_webhook_never_arrived_and_creates_it_once(world, woo):
    reconcile_every_second(world)
    missed = woo.add_order(order_id=1101, line_items=[{"sku": "SKU-7", "quantity": 2, "price": "5.00"}])
    woo.add_order(order_id=1102, status="pending")  # unpaid: reconciled too, and held back like a webhook's
    world.start_consumer("orders")
    world.start_consumer("woocommerce_reconcile")

    created = wait_for_order(world, WOO_ID, 1101)
    assert [(line["sku"], line["orderedQty"]) for line in created["lineItems"]] == [("SKU-7", 2)]
    assert "not paid yet" in skips(world, 1102)[0]["reason"]
    post_woo(world, missed)  # the webhook turns up after all
    settle(4)  # several reconciliation passes
    assert len(infoplus_orders(world, WOO_ID, 1101)) == 1
    assert infoplus_orders(world, WOO_ID, 1102) == []


def test_reconciliation_publishes_the_same_event_ids_as_the_webhook(world, woo):
    reconcile_every_second(world)
    order = woo.add_order(order_id=1103)
    [webhook_event_id] = post_woo(world, order).json()["event_ids"]
    world.start_consumer("woocommerce_reconcile")

    events = eventually(lambda: len(found := world.read(topics.CART_ORDERS, expect=2, timeout=5)) >= 2 and found,
                        WAIT, message="the reconciliation event next to the webhook's")
    assert {event["event_id"] for event in events} == {webhook_event_id}
    assert events[-1]["delivery"] == {"via": "reconciliation"}


def test_reconciliation_keeps_a_durable_cursor_and_survives_store_errors(world, woo):
    reconcile_every_second(world)
    woo.fail_next(2, status=503, retry_after=1, path_regex=r"/orders$")
    woo.add_order(order_id=1104, date_modified=minutes_ago(0))
    world.start_consumer("orders")
    reconciler = world.start_consumer("woocommerce_reconcile")

    wait_for_order(world, WOO_ID, 1104)
    modified = parse_version(woo.order(1104)["date_modified_gmt"])
    eventually(lambda: (cursor := _cursor(world)) and parse_version(cursor["modified_after"]) >= modified, WAIT,
               message="a saved cursor at the order's modification time")
    assert reconciler.terminate() == 0

    # A later run, a new process: it resumes from the saved cursor and finds the order modified meanwhile.
    woo.add_order(order_id=1105, date_modified=minutes_ago(0))
    world.start_consumer("woocommerce_reconcile")
    wait_for_order(world, WOO_ID, 1105)
    assert len(infoplus_orders(world, WOO_ID, 1104)) == 1


def _cursor(world) -> dict | None:
    """The latest cursor record (the topic holds only connection 202's)."""
    records = world.read(topics.WOOCOMMERCE_RECONCILE_CURSORS, expect=0, timeout=2)
    return records[-1] if records else None
