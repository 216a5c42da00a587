"""Infoplus items, shipments, backorder children, shopping-cart connections and the rate limit."""
from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
import requests

from sandbox import InfoplusStandIn
from sandbox.infoplus import now_iso

KEY = {"API-Key": "test-key"}


@pytest.fixture
def ip() -> Iterator[InfoplusStandIn]:
    with InfoplusStandIn() as standin:
        yield standin


def get(ip: InfoplusStandIn, path: str, **params: Any) -> requests.Response:
    return requests.get(ip.url(path), params=params, headers=KEY, timeout=5)


def test_timestamps_are_strictly_increasing():
    stamps = [now_iso() for _ in range(200)]
    assert stamps == sorted(set(stamps))
    assert stamps[0].endswith("Z") and len(stamps[0]) == len("2026-01-01T00:00:00.000Z")


# ---- items -------------------------------------------------------------------------------------
def test_get_by_sku(ip):
    item = ip.add_item(10000, "SKU-1", 30, backorder="Yes")
    ip.add_item(20000, "SKU-1", 5)
    answer = get(ip, "item/getBySKU", lobId=10000, sku="SKU-1")
    assert answer.status_code == 200 and answer.json() == item
    shown = answer.json()
    assert (shown["lobId"], shown["sku"], shown["orderableQuantity"], shown["backorder"]) == (
        10000, "SKU-1", 30, "Yes")
    for field in ("id", "itemDescription", "status", "onHandQuantity", "availableQuantity",
                  "modifyDate", "inventoryUpdateTimestamp", "w1OrderableQuantity"):
        assert field in shown
    assert get(ip, f"item/{item['id']}").json() == item


@pytest.mark.parametrize("params, status", [({"lobId": 10000, "sku": "NOPE"}, 404),
                                            ({"sku": "SKU-1"}, 400), ({"lobId": 10000}, 400),
                                            ({"lobId": "acme", "sku": "SKU-1"}, 400)])
def test_get_by_sku_errors(ip, params, status):
    ip.add_item(10000, "SKU-1", 3)
    answer = get(ip, "item/getBySKU", **params)
    assert answer.status_code == status and answer.json()["errors"]


def test_item_search_by_modify_date(ip):
    ip.add_item(10000, "SKU-1", 3)
    ip.add_item(10000, "SKU-2", 0)
    ip.add_item(20000, "SKU-3", 9)
    cursor = max(i["modifyDate"] for i in ip.items)
    changed_since = f"lobId eq 10000 and modifyDate gt '{cursor}'"
    assert get(ip, "item/search", filter=changed_since).json() == []
    changed = ip.set_orderable(10000, "SKU-2", 12)
    assert changed["modifyDate"] > cursor
    assert changed["inventoryUpdateTimestamp"] == changed["modifyDate"]
    found = get(ip, "item/search", filter=changed_since).json()
    assert [(i["sku"], i["orderableQuantity"]) for i in found] == [("SKU-2", 12)]
    everything = get(ip, "item/search", filter="lobId eq 10000", sort="sku", limit=1, page=2)
    assert [i["sku"] for i in everything.json()] == ["SKU-2"]
    assert get(ip, "item/search", filter="colour eq 'red'").status_code == 400


def test_item_helpers(ip):
    ip.add_item(10000, "SKU-1", 3)
    with pytest.raises(ValueError):
        ip.add_item(10000, "SKU-1", 3)
    with pytest.raises(KeyError):
        ip.set_orderable(10000, "NOPE", 1)
    assert ip.update_item(10000, "SKU-1", backorder="Yes")["backorder"] == "Yes"
    assert ip.item(10000, "SKU-1")["backorder"] == "Yes"
    assert get(ip, "item/999").status_code == 404


# ---- shipments and order lines -----------------------------------------------------------------
def two_line_order(ip: InfoplusStandIn, order_no: float = 1234) -> dict:
    return ip.add_order({"orderNo": order_no, "lobId": 10000, "warehouseId": 1000,
                         "customerOrderNo": "1001", "billToCompany": "Jane Doe",
                         "lineItems": [{"sku": "SKU-1", "orderedQty": 2},
                                       {"sku": "SKU-2", "orderedQty": 1}]})


def test_shipment_search_and_get(ip):
    two_line_order(ip)
    shipment = ip.add_shipment(1234, "1Z999AA10123456784", carrier_company="UPS")
    assert (shipment["orderNo"], shipment["trackingNo"], shipment["carrierCompany"],
            shipment["status"], shipment["shipped"], shipment["lobId"]) == (
        1234.0, "1Z999AA10123456784", "UPS", "Shipped", True, 10000)
    for field in ("id", "warehouseId", "shipDate", "cartonNo", "numberOfCartons", "createDate",
                  "modifyDate", "carrierServiceId", "orderNoList"):
        assert field in shipment
    assert get(ip, "shipment/search", filter="orderNo eq 1234.000").json() == [shipment]
    assert get(ip, f"shipment/{shipment['id']}").json() == shipment
    assert get(ip, "shipment/1").status_code == 404
    assert get(ip, "shipment/abc").status_code == 404


def test_shipment_modify_date_filter_catches_new_and_changed(ip):
    two_line_order(ip)
    first = ip.add_shipment(1234, "1Z1", carton_no=1, number_of_cartons=2, line_items={"SKU-1": 1})
    cursor = first["modifyDate"]
    second = ip.add_shipment(1234, "1Z2", carton_no=2, number_of_cartons=2, line_items={})
    found = get(ip, "shipment/search", filter=f"modifyDate gt '{cursor}'").json()
    assert [s["trackingNo"] for s in found] == ["1Z2"]
    ip.update_shipment(first["id"], trackingNo="1Z1-CORRECTED")
    found = get(ip, "shipment/search", filter=f"modifyDate gt '{second['modifyDate']}'").json()
    assert [s["trackingNo"] for s in found] == ["1Z1-CORRECTED"]


def test_partial_shipment_shows_on_the_order_lines(ip):
    two_line_order(ip)
    ip.add_shipment(1234, "1Z1", line_items={"SKU-1": 1})
    order = get(ip, "order/1234").json()
    assert [(l["sku"], l.get("shippedQty", 0)) for l in order["lineItems"]] == [("SKU-1", 1),
                                                                               ("SKU-2", 0)]
    assert order["status"] == "Pending"
    ip.add_shipment(1234, "1Z2")  # no line_items: everything left
    order = get(ip, "order/1234").json()
    assert [l["shippedQty"] for l in order["lineItems"]] == [2, 1]
    assert order["status"] == "Shipped" and order["shippedDate"]
    with pytest.raises(ValueError):
        ip.ship_order_lines(1234, {"SKU-1": 1})


def test_ship_order_lines_bumps_modify_date(ip):
    before = two_line_order(ip)["modifyDate"]
    after = ip.ship_order_lines(1234, {"SKU-2": 1})
    assert after["modifyDate"] > before
    found = get(ip, "order/search", filter=f"modifyDate gt '{before}'").json()
    assert [o["orderNo"] for o in found] == [1234.0]


def test_shipment_for_an_order_not_stored_here(ip):
    shipment = ip.add_shipment(4321, "1Z", lob_id=20000)
    assert (shipment["orderNo"], shipment["lobId"]) == (4321.0, 20000)


def test_backorder_children(ip):
    two_line_order(ip)
    ip.ship_order_lines(1234, {"SKU-1": 2})
    child = ip.add_backorder_child(1234)
    assert child["orderNo"] == 1234.001 and child["customerOrderNo"] == "1001"
    assert [(l["sku"], l["orderedQty"]) for l in child["lineItems"]] == [("SKU-2", 1)]
    second = ip.add_backorder_child(1234, {"SKU-1": 1})
    assert second["orderNo"] == 1234.002
    found = get(ip, "order/search", filter="customerOrderNo eq '1001'", sort="orderNo").json()
    assert [o["orderNo"] for o in found] == [1234.0, 1234.001, 1234.002]
    assert get(ip, "order/1234.001").json()["status"] == "Backorder"


# ---- shopping-cart connections -----------------------------------------------------------------
def test_connection_get_and_search(ip):
    created = ip.add_connection(101, 10000, 55, sync_inventory=False, name="Acme Shopify")
    answer = get(ip, "shoppingCartConnection/101")
    assert answer.status_code == 200 and answer.json() == created
    shown = answer.json()
    assert (shown["syncOrders"], shown["syncInventory"], shown["syncTrackingData"]) == (
        True, False, True)
    assert (shown["lobId"], shown["orderSourceId"], shown["name"]) == (10000, 55, "Acme Shopify")
    for field in ("integrationPartnerId", "connectionType", "shoppingCartStoreURL",
                  "orderShipmentLevel", "fulfillAllItems", "syncInventoryCronString",
                  "defaultCarrierId", "createDate", "modifyDate"):
        assert field in shown
    ip.add_connection(102, 20000, 56)
    found = get(ip, "shoppingCartConnection/search", filter="lobId eq 20000").json()
    assert [c["id"] for c in found] == [102]
    assert get(ip, "shoppingCartConnection/999").status_code == 404


def test_set_switch_takes_effect_and_bumps_modify_date(ip):
    before = ip.add_connection(101, 10000, 55)["modifyDate"]
    ip.set_switch(101, "syncTrackingData", False)
    ip.set_switch(101, "sync_orders", False)
    shown = get(ip, "shoppingCartConnection/101").json()
    assert (shown["syncOrders"], shown["syncTrackingData"]) == (False, False)
    assert shown["modifyDate"] > before
    with pytest.raises(ValueError):
        ip.set_switch(101, "name", "x")
    with pytest.raises(KeyError):
        ip.set_switch(999, "syncOrders", True)


# ---- rate limit --------------------------------------------------------------------------------
def test_rate_limit_answers_429_beyond_the_rate(ip):
    ip.rate_limit(3)
    answers = [get(ip, "order/search") for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].headers["Retry-After"] == "1"
    assert answers[3].json() == {"errors": ["Too many requests"]}
    assert ip.throttled == 2
    assert requests.get(ip.url("/_sandbox/state"), timeout=5).status_code == 200  # not limited
    time.sleep(1.05)
    assert get(ip, "order/search").status_code == 200


def test_rate_limit_window_slides(ip):
    ip.rate_limit(2)
    assert get(ip, "order/search").status_code == 200
    time.sleep(0.6)
    assert get(ip, "order/search").status_code == 200
    assert get(ip, "order/search").status_code == 429
    time.sleep(0.5)  # the first request has left the window, the second has not
    assert get(ip, "order/search").status_code == 200
    assert get(ip, "order/search").status_code == 429


def test_rate_limit_is_cleared_with_the_faults(ip):
    ip.rate_limit(1)
    get(ip, "order/search")
    assert get(ip, "order/search").status_code == 429
    ip.reset_faults()
    assert ip.throttled == 0
    assert [get(ip, "order/search").status_code for _ in range(3)] == [200, 200, 200]


def test_state_view(ip):
    ip.add_item(10000, "SKU-1", 1)
    ip.add_connection(101, 10000, 55)
    state = requests.get(ip.url("/_sandbox/state"), timeout=5).json()
    assert [i["sku"] for i in state["items"]] == ["SKU-1"]
    assert [c["id"] for c in state["connections"]] == [101]
    assert state["orders"] == [] and state["shipments"] == []
