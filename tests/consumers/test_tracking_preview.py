"""Sync Tracking Data in preview: a shipment reaches the real tracking consumer, which reads the cart order
(Shopify, WooCommerce, BigCommerce stand-ins over real HTTP) and records the fulfillment and the emails it would
have made — and makes none."""
from __future__ import annotations

import time

from events import topics
from tests.consumers.tracking_support import WAIT, enable_tracking, infoplus_order, publish_as, push
from tests.support.cart_orders import BC_ID, WOO_ID, bc, woo  # noqa: F401  (fixtures)
from tests.support.world import eventually


def cart_writes(world, woo, bc) -> list[str]:  # noqa: F811
    shopify = [c.json["query"][:60] for c in world.shopify.calls if "mutation" in ((c.json or {}).get("query") or "")]
    rest = [f"{c.method} {c.path}" for standin in (woo, bc) for c in standin.calls if c.method != "GET"]
    return shopify + rest


def test_a_shipment_in_preview_makes_no_fulfillment_and_no_email_in_any_cart_and_records_what_it_would(
        world, woo, bc):  # noqa: F811
    enable_tracking(world, 101)
    for connection_id in (101, WOO_ID, BC_ID):
        world.set_switch(connection_id, "sync_tracking_data", "preview")
    world.shopify.add_order(7001, [{"sku": "SKU-1", "quantity": 2}])
    woo.add_order(7002, line_items=[{"sku": "SKU-1", "quantity": 2}])
    bc.add_order(7003, products=[{"sku": "SKU-1", "quantity": 2}])
    shipments = []
    for cart_order, connection_id, source, number in ((7001, 101, 55, "1ZPREVIEW000000001"),
                                                      (7002, WOO_ID, 56, "1ZPREVIEW000000002"),
                                                      (7003, BC_ID, 57, "1ZPREVIEW000000003")):
        order = infoplus_order(world, cart_order, {"SKU-1": 2}, connection_id=connection_id, order_source_id=source)
        shipments.append(world.infoplus.add_shipment(order["orderNo"], number, "UPS"))
    world.start_consumer("tracking")

    push(world, *shipments)

    records = world.read(topics.skipped(topics.INFOPLUS_SHIPMENTS), expect=3, timeout=WAIT)
    by_connection = {r["connection_id"]: r for r in records}
    assert {r["code"] for r in records} == {"preview"} and set(by_connection) == {101, WOO_ID, BC_ID}
    shopify, woocommerce, bigcommerce = (by_connection[n]["preview"] for n in (101, WOO_ID, BC_ID))
    assert shopify["cart_now"]["tracking_numbers"] == []
    [fulfillment] = shopify["would_write"]
    assert fulfillment["action"] == "fulfillment" and fulfillment["items"] == {"SKU-1": 2}
    assert fulfillment["tracking_numbers"] == ["1ZPREVIEW000000001"]
    assert shopify["emails"] == ["Shopify shipping confirmation"]
    assert [w["action"] for w in woocommerce["would_write"]] == ["order_note", "order_completed"]
    assert woocommerce["emails"] == ["WooCommerce customer note email", "WooCommerce completed order email"]
    assert [w["action"] for w in bigcommerce["would_write"]] == ["shipment"]
    assert bigcommerce["would_write"][0]["items"] == {"SKU-1": 2} and len(bigcommerce["emails"]) == 1
    assert "would write" in by_connection[101]["reason"] and "1ZPREVIEW000000001" in by_connection[101]["reason"]

    assert cart_writes(world, woo, bc) == []
    assert world.shopify.fulfillments(7001) == [] and world.shopify.customer_notifications(7001) == 0
    assert woo.notes(7002) == [] and woo.emails == [] and woo.order(7002)["status"] != "completed"
    assert bc.shipments(7003) == [] and bc.emails == []
    assert world.read(topics.dead_letters(topics.INFOPLUS_SHIPMENTS), expect=0) == []


def test_tracking_already_on_the_cart_order_is_previewed_as_nothing_to_write(world):
    enable_tracking(world, 101, sync_tracking_data="preview")
    world.shopify.add_order(7011, [{"sku": "SKU-1", "quantity": 1}])
    order = infoplus_order(world, 7011, {"SKU-1": 1})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1ZALREADY00000001", "UPS")
    world.set_switch(101, "sync_tracking_data", True)
    world.start_consumer("tracking")
    push(world, shipment)
    eventually(lambda: world.shopify.fulfillments(7011), WAIT, message="the real fulfillment, switch on")

    world.set_switch(101, "sync_tracking_data", "preview")
    time.sleep(2.5)  # the registry notices the file within connections_reload_seconds (2 s)
    mutations = len([c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")])
    publish_as(world, shipment, "infoplus.poller")  # the same carton again, as the poller would see it

    [record] = world.read(topics.skipped(topics.INFOPLUS_SHIPMENTS), expect=1, timeout=WAIT)
    assert record["code"] == "preview" and record["preview"]["would_write"] == []
    assert record["preview"]["cart_now"]["tracking_numbers"] == ["1ZALREADY00000001"]
    assert "already shows tracking" in record["reason"]
    assert len([c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")]) == mutations
