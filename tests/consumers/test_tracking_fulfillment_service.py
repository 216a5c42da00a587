"""Tracking for a Shopify fulfillment service connection: the Infoplus shipment becomes a fulfillment of the
fulfillment order it accepted (never of another location's), notifying the customer as the merchant's request
asked; a merchant-managed connection is unchanged (tests/consumers/test_tracking_shopify.py)."""
from __future__ import annotations

from tests.consumers.test_fulfillment_requests import fulfillment_service
from tests.consumers.tracking_support import WAIT, enable_tracking, infoplus_order, push
from tests.support.world import eventually


def test_a_shipment_fulfils_the_accepted_fulfillment_order_notifying_as_the_request_asked(world):
    location = fulfillment_service(world)
    enable_tracking(world, notify_customer=True)  # the request's notify_customer: false wins
    world.shopify.add_order(8101, [{"id": 2, "sku": "OURS", "quantity": 1, "location_id": "gid://shopify/Location/1"},
                                   {"id": 1, "sku": "OURS", "quantity": 2}],  # the other location's comes first
                            location_id=location)
    [ours] = world.shopify.request_fulfillment(8101, notify_customer=False)
    world.shopify.mutation_fulfillmentOrderAcceptFulfillmentRequest({"id": ours, "message": "Infoplus order"})
    order = infoplus_order(world, 8101, {"OURS": 2})
    shipment = world.infoplus.add_shipment(order["orderNo"], "1Z999AA10123456784", "UPS")
    world.start_consumer("tracking")

    push(world, shipment)

    [fulfillment] = eventually(lambda: world.shopify.fulfillments(8101), WAIT, message="a fulfillment")
    assert [(l["sku"], l["quantity"]) for l in fulfillment["lineItems"]] == [("OURS", 2)]
    assert fulfillment["notifyCustomer"] is False
    by_id = {fo["id"]: fo for fo in world.shopify.fulfillment_orders(8101)}
    assert by_id[ours]["lineItems"][0]["remainingQuantity"] == 0
    [theirs] = [fo for fo_id, fo in by_id.items() if fo_id != ours]
    assert theirs["lineItems"][0]["remainingQuantity"] == 1  # the other location's goods are not ours to fulfil


def test_with_no_notify_option_in_the_request_the_connection_decides(world):
    location = fulfillment_service(world)
    enable_tracking(world, notify_customer=True)
    world.shopify.add_order(8102, [{"id": 3, "sku": "SKU-1", "quantity": 1}], location_id=location)
    [ours] = world.shopify.request_fulfillment(8102)
    fo = next(f for o in world.shopify._orders.values() for f in o["fulfillmentOrders"] if f["id"] == ours)
    fo["merchantRequests"][-1]["requestOptions"] = {}
    world.shopify.mutation_fulfillmentOrderAcceptFulfillmentRequest({"id": ours})
    order = infoplus_order(world, 8102, {"SKU-1": 1})
    world.start_consumer("tracking")

    push(world, world.infoplus.add_shipment(order["orderNo"], "1Z999AA10123456785", "UPS"))

    [fulfillment] = eventually(lambda: world.shopify.fulfillments(8102), WAIT, message="a fulfillment")
    assert fulfillment["notifyCustomer"] is True
