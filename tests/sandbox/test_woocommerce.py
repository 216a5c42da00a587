"""The WooCommerce stand-in speaks WooCommerce REST v3: paths, Basic auth, WP_Error bodies,
pagination headers, stock rules, notes/emails and the Shipment Tracking extension."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests

from sandbox import WooCommerceStandIn
from sandbox.woocommerce import wc_date

AUTH = ("ck_test", "cs_test")


@pytest.fixture
def woo() -> Iterator[WooCommerceStandIn]:
    with WooCommerceStandIn() as standin:
        yield standin


@pytest.fixture
def woo_tracking() -> Iterator[WooCommerceStandIn]:
    with WooCommerceStandIn(shipment_tracking=True) as standin:
        yield standin


def get(woo: WooCommerceStandIn, path: str, auth: Any = AUTH, **params: Any) -> requests.Response:
    return requests.get(woo.url(path), params=params, auth=auth, timeout=5)


def put(woo: WooCommerceStandIn, path: str, body: Any) -> requests.Response:
    return requests.put(woo.url(path), json=body, auth=AUTH, timeout=5)


def post(woo: WooCommerceStandIn, path: str, body: Any) -> requests.Response:
    return requests.post(woo.url(path), json=body, auth=AUTH, timeout=5)


# ---- authentication ----------------------------------------------------------------------------
def test_no_credentials_is_401_cannot_view(woo):
    answer = get(woo, "orders", auth=None)
    assert answer.status_code == 401
    assert answer.json() == {"code": "woocommerce_rest_cannot_view",
                             "message": "Sorry, you cannot list resources.",
                             "data": {"status": 401}}
    edit = requests.put(woo.url("products/1"), json={}, timeout=5)
    assert (edit.status_code, edit.json()["code"]) == (401, "woocommerce_rest_cannot_edit")


@pytest.mark.parametrize("auth, message", [(("ck_nope", "cs_test"), "Consumer key is invalid."),
                                           (("ck_test", "cs_nope"), "Consumer secret is invalid.")])
def test_wrong_credentials_are_401(woo, auth, message):
    answer = get(woo, "orders", auth=auth)
    assert answer.status_code == 401
    assert answer.json()["code"] == "woocommerce_rest_authentication_error"
    assert answer.json()["message"] == message


def test_query_string_credentials_are_accepted(woo):
    answer = get(woo, "orders", auth=None, consumer_key="ck_test", consumer_secret="cs_test")
    assert answer.status_code == 200 and answer.json() == []


def test_unknown_route_is_rest_no_route(woo):
    answer = get(woo, "nope")
    assert (answer.status_code, answer.json()["code"]) == (404, "rest_no_route")


# ---- orders ------------------------------------------------------------------------------------
def test_add_order_shape_and_get(woo):
    woo.add_product("SKU-1")
    woo.add_variation("SHIRT", "SHIRT-L")
    stored = woo.add_order(727, line_items=[{"sku": "SKU-1", "quantity": 2, "price": "10.00"},
                                            {"sku": "SHIRT-L", "quantity": 1, "price": "5.00"}])
    answer = get(woo, "orders/727")
    assert answer.status_code == 200 and answer.json() == stored
    order = answer.json()
    assert (order["id"], order["number"], order["status"], order["total"]) == (
        727, "727", "processing", "25.00")
    assert order["date_paid_gmt"] == order["date_created_gmt"]
    for key in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
                "postcode", "country", "email", "phone"):
        assert key in order["billing"]
    assert "email" not in order["shipping"] and order["shipping"]["address_1"]
    simple, variation = order["line_items"]
    assert (simple["sku"], simple["quantity"], simple["price"], simple["variation_id"]) == (
        "SKU-1", 2, 10.0, 0)
    assert simple["product_id"] == woo.product("SKU-1")["id"]
    assert variation["variation_id"] == woo.product("SHIRT-L")["id"]
    assert variation["product_id"] == woo.product("SHIRT")["id"]
    assert order["shipping_lines"][0]["method_id"] == "flat_rate"


def test_unknown_order_is_404(woo):
    answer = get(woo, "orders/999")
    assert (answer.status_code, answer.json()["code"]) == (
        404, "woocommerce_rest_shop_order_invalid_id")


def test_orders_paginate_with_wp_headers(woo):
    for n in range(1, 26):
        woo.add_order(n)
    first = get(woo, "orders", per_page=10, orderby="id", order="asc")
    assert [o["id"] for o in first.json()] == list(range(1, 11))
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("25", "3")
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    last = get(woo, "orders", per_page=10, page=3, orderby="id", order="asc")
    assert [o["id"] for o in last.json()] == list(range(21, 26))
    assert get(woo, "orders", per_page=10, page=4).json() == []
    assert len(get(woo, "orders").json()) == 10  # default per_page
    assert [o["id"] for o in get(woo, "orders", per_page=3, orderby="id").json()] == [25, 24, 23]


@pytest.mark.parametrize("params, bad", [
    ({"per_page": 101}, "per_page"), ({"per_page": 0}, "per_page"), ({"page": 0}, "page"),
    ({"orderby": "price"}, "orderby"), ({"modified_after": "yesterday"}, "modified_after"),
    ({"status": "shipped"}, "status")])
def test_bad_list_parameters_are_400(woo, params, bad):
    answer = get(woo, "orders", **params)
    assert answer.status_code == 400
    assert answer.json()["code"] == "rest_invalid_param"
    assert bad in answer.json()["data"]["params"]


def test_modified_after_is_strict_and_orders_by_modified(woo):
    woo.add_order(1, date_created="2026-01-01T10:00:00", date_modified="2026-01-01T10:00:00")
    woo.add_order(2, date_created="2026-01-01T09:00:00", date_modified="2026-01-01T12:00:00")
    woo.add_order(3, date_created="2026-01-01T08:00:00", date_modified="2026-01-01T11:00:00")
    found = get(woo, "orders", modified_after="2026-01-01T10:00:00", orderby="modified",
                order="asc").json()
    assert [o["id"] for o in found] == [3, 2]  # 1 was modified *at*, not after, the bound
    with_zone = get(woo, "orders", modified_after="2026-01-01T12:30:00+02:00").json()
    assert [o["id"] for o in with_zone] == [2, 3]  # default order: newest created first
    assert get(woo, "orders", modified_after="2026-01-01T12:00:00Z").json() == []


def test_update_order_helper_bumps_modified(woo):
    woo.add_order(5, date_modified="2020-01-01T00:00:00")
    changed = woo.update_order(5, status="on-hold")
    assert changed["status"] == "on-hold" and changed["date_modified_gmt"] > "2020-01-01T00:00:00"
    assert woo.update_order(5, date_modified_gmt="2030-01-01T00:00:00")["date_modified_gmt"] == \
        "2030-01-01T00:00:00"


def test_status_filter(woo):
    woo.add_order(1, status="processing")
    woo.add_order(2, status="completed")
    woo.add_order(3, status="trash")
    assert [o["id"] for o in get(woo, "orders", status="completed").json()] == [2]
    assert sorted(o["id"] for o in get(woo, "orders").json()) == [1, 2]


def test_complete_order_emails_once_and_notes_the_change(woo):
    woo.add_order(7, date_modified="2020-01-01T00:00:00")
    answer = put(woo, "orders/7", {"status": "completed"})
    assert answer.status_code == 200
    order = answer.json()
    assert order["status"] == "completed" and order["date_completed_gmt"]
    assert order["date_modified_gmt"] > "2020-01-01T00:00:00"
    assert [e["template"] for e in woo.emails] == ["customer_completed_order"]
    assert woo.emails[0]["to"] == "jane.doe@example.com"
    assert "Processing to Completed" in woo.notes(7)[0]["note"]
    again = put(woo, "orders/7", {"status": "completed"})
    assert again.json()["date_modified_gmt"] == order["date_modified_gmt"]
    assert len(woo.emails) == 1  # no change, no second email


def test_bad_status_and_unknown_order_on_update(woo):
    woo.add_order(7)
    assert put(woo, "orders/7", {"status": "shipped"}).status_code == 400
    assert put(woo, "orders/8", {"status": "completed"}).status_code == 404
    assert woo.order(7)["status"] == "processing"


# ---- notes -------------------------------------------------------------------------------------
def test_customer_note_is_201_and_one_email(woo):
    woo.add_order(9)
    created = post(woo, "orders/9/notes", {"note": "Shipped UPS 1Z999", "customer_note": True})
    assert created.status_code == 201
    note = created.json()
    assert (note["note"], note["customer_note"]) == ("Shipped UPS 1Z999", True)
    assert post(woo, "orders/9/notes", {"note": "internal only"}).status_code == 201
    assert [e["template"] for e in woo.emails] == ["customer_note"]
    listed = get(woo, "orders/9/notes").json()
    assert [n["note"] for n in listed] == ["internal only", "Shipped UPS 1Z999"]  # newest first
    assert [n["note"] for n in get(woo, "orders/9/notes", type="customer").json()] == [
        "Shipped UPS 1Z999"]


def test_note_errors(woo):
    woo.add_order(9)
    missing = post(woo, "orders/9/notes", {"customer_note": True})
    assert (missing.status_code, missing.json()["code"]) == (400, "rest_missing_callback_param")
    unknown = post(woo, "orders/10/notes", {"note": "x"})
    assert (unknown.status_code, unknown.json()["code"]) == (
        404, "woocommerce_rest_order_invalid_id")
    assert get(woo, "orders/10/notes").status_code == 404


# ---- products and stock ------------------------------------------------------------------------
def test_products_by_sku_find_products_and_variations(woo):
    simple = woo.add_product("SKU-1", stock_quantity=3)
    variation = woo.add_variation("SHIRT", "SHIRT-L", stock_quantity=1)
    found = get(woo, "products", sku="SKU-1").json()
    assert [p["id"] for p in found] == [simple["id"]]
    assert found[0]["stock_status"] == "instock" and found[0]["type"] == "simple"
    as_variation = get(woo, "products", sku="SHIRT-L").json()
    assert [(p["id"], p["type"], p["parent_id"]) for p in as_variation] == [
        (variation["id"], "variation", woo.product("SHIRT")["id"])]
    assert get(woo, "products", sku="NOPE").json() == []
    assert len(get(woo, "products", sku="SKU-1,SHIRT-L").json()) == 2
    assert {p["sku"] for p in get(woo, "products").json()} == {"SKU-1", "SHIRT"}  # no variations
    assert get(woo, f"products/{simple['id']}").json()["sku"] == "SKU-1"
    # Variations have their own route; the products one refuses their ids.
    assert get(woo, f"products/{variation['id']}").status_code == 404


@pytest.mark.parametrize("body, status, quantity, backorders_allowed", [
    ({"manage_stock": True, "stock_quantity": 25, "backorders": "no"}, "instock", 25, False),
    ({"manage_stock": True, "stock_quantity": 0, "backorders": "no"}, "outofstock", 0, False),
    ({"manage_stock": True, "stock_quantity": 0, "backorders": "notify"}, "onbackorder", 0, True),
    ({"manage_stock": True, "stock_quantity": -2, "backorders": "yes"}, "onbackorder", -2, True),
    ({"manage_stock": True, "stock_quantity": 4, "backorders": "yes"}, "instock", 4, True),
    ({"manage_stock": True, "stock_quantity": "7"}, "instock", 7, False),
])
def test_stock_update_computes_stock_status(woo, body, status, quantity, backorders_allowed):
    product = woo.add_product("SKU-1", stock_quantity=1)
    answer = put(woo, f"products/{product['id']}", body)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (shown["stock_status"], shown["stock_quantity"], shown["backorders_allowed"]) == (
        status, quantity, backorders_allowed)
    assert woo.product("SKU-1")["stock_status"] == status


def test_unmanaged_stock_ignores_quantity_and_backorders(woo):
    product = woo.add_product("SKU-1", stock_quantity=5)
    shown = put(woo, f"products/{product['id']}", {"manage_stock": False, "stock_quantity": 9,
                                                  "backorders": "yes"}).json()
    assert (shown["manage_stock"], shown["stock_quantity"], shown["backorders"]) == (
        False, None, "no")


@pytest.mark.parametrize("body, param", [({"backorders": "maybe"}, "backorders"),
                                         ({"stock_quantity": 1.5}, "stock_quantity"),
                                         ({"manage_stock": "sometimes"}, "manage_stock")])
def test_invalid_stock_fields_are_400(woo, body, param):
    product = woo.add_product("SKU-1", stock_quantity=5)
    answer = put(woo, f"products/{product['id']}", body)
    assert answer.status_code == 400 and param in answer.json()["data"]["params"]
    assert woo.product("SKU-1")["stock_quantity"] == 5


def test_unknown_product_is_404(woo):
    answer = put(woo, "products/424242", {"stock_quantity": 1})
    assert (answer.status_code, answer.json()["code"]) == (
        404, "woocommerce_rest_product_invalid_id")


def test_variation_routes(woo):
    variation = woo.add_variation("SHIRT", "SHIRT-L", stock_quantity=2)
    parent = woo.product("SHIRT")
    assert parent["type"] == "variable" and parent["variations"] == [variation["id"]]
    listed = get(woo, f"products/{parent['id']}/variations", sku="SHIRT-L").json()
    assert [v["id"] for v in listed] == [variation["id"]]
    assert get(woo, f"products/{parent['id']}/variations", sku="NOPE").json() == []
    updated = put(woo, f"products/{parent['id']}/variations/{variation['id']}",
                  {"manage_stock": True, "stock_quantity": 0, "backorders": "yes"})
    assert updated.json()["stock_status"] == "onbackorder"
    wrong_parent = put(woo, f"products/{parent['id'] + 1}/variations/{variation['id']}", {})
    assert wrong_parent.status_code == 404


def test_batch_update_reports_each_item(woo):
    one, two = woo.add_product("SKU-1"), woo.add_product("SKU-2")
    answer = post(woo, "products/batch", {"update": [
        {"id": one["id"], "stock_quantity": 4}, {"id": two["id"], "stock_quantity": 6},
        {"id": 999999, "stock_quantity": 1}, {"id": two["id"], "backorders": "bad"}]})
    assert answer.status_code == 200
    results = answer.json()["update"]
    assert [r.get("stock_quantity") for r in results[:2]] == [4, 6]
    assert results[2]["error"]["code"] == "woocommerce_rest_product_invalid_id"
    assert results[3]["error"]["code"] == "rest_invalid_param"
    assert woo.product("SKU-2")["stock_quantity"] == 6
    too_many = post(woo, "products/batch", {"update": [{"id": one["id"]}] * 101})
    assert too_many.status_code == 413


def test_variation_batch(woo):
    variation = woo.add_variation("SHIRT", "SHIRT-L")
    parent = woo.product("SHIRT")["id"]
    answer = post(woo, f"products/{parent}/variations/batch",
                  {"update": [{"id": variation["id"], "stock_quantity": 3}]})
    assert answer.json()["update"][0]["stock_quantity"] == 3


# ---- Shipment Tracking extension ---------------------------------------------------------------
TRACKINGS = "/wp-json/wc-shipment-tracking/v3/orders/{}/shipment-trackings"


def test_tracking_routes_absent_without_the_extension(woo):
    woo.add_order(11)
    answer = post(woo, TRACKINGS.format(11), {"tracking_number": "1Z"})
    assert (answer.status_code, answer.json()["code"]) == (404, "rest_no_route")
    assert get(woo, TRACKINGS.format(11)).status_code == 404


def test_tracking_create_and_list(woo_tracking):
    woo = woo_tracking
    woo.add_order(11, date_modified="2020-01-01T00:00:00")
    created = post(woo, TRACKINGS.format(11), {"tracking_provider": "UPS",
                                               "tracking_number": "1Z999",
                                               "date_shipped": "2026-07-10"})
    assert created.status_code == 201
    tracking = created.json()
    assert (tracking["tracking_provider"], tracking["tracking_number"],
            tracking["date_shipped"]) == ("UPS", "1Z999", "2026-07-10")
    assert tracking["tracking_id"] and "1Z999" in tracking["tracking_link"]
    assert get(woo, TRACKINGS.format(11)).json() == [tracking] == woo.trackings(11)
    assert woo.order(11)["date_modified_gmt"] > "2020-01-01T00:00:00"
    assert woo.emails == []  # the extension itself sends nothing
    assert post(woo, TRACKINGS.format(11), {"tracking_provider": "UPS"}).status_code == 400
    assert post(woo, TRACKINGS.format(12), {"tracking_number": "1Z"}).status_code == 404
    assert requests.get(woo.url(TRACKINGS.format(11)), timeout=5).status_code == 401


# ---- shared faults, debug view -----------------------------------------------------------------
def test_woo_faults_and_state_view(woo):
    woo.fail_next(1, status=503, retry_after=2)
    failed = get(woo, "orders")
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "2")
    assert get(woo, "orders").status_code == 200
    woo.add_order(1)
    state = requests.get(woo.url("/_sandbox/state"), timeout=5).json()
    assert [o["id"] for o in state["orders"]] == [1]


def test_wc_date_format():
    assert len(wc_date()) == 19 and "T" in wc_date() and not wc_date().endswith("Z")


def test_order_meta_data_is_merged_by_key(woo):
    woo.add_order(3)
    put(woo, "orders/3", {"meta_data": [{"key": "_infoplus_order_no", "value": "1000"}]})
    shown = put(woo, "orders/3", {"meta_data": [{"key": "_infoplus_order_no",
                                                 "value": "1000.001"}]}).json()
    assert [(m["key"], m["value"]) for m in shown["meta_data"]] == [("_infoplus_order_no",
                                                                     "1000.001")]
