"""The local stand-ins speak the real paths, headers, payloads and error codes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from sandbox import InfoplusStandIn, ShopifyStandIn, StandIn
from sandbox.httpserver import Request, Response, ok
from sandbox.sample import main as sample_main
from sandbox.sample import shopify_headers, shopify_order

KEY = {"API-Key": "test-key"}
TOKEN = {"X-Shopify-Access-Token": "shpat_test"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def infoplus() -> Iterator[InfoplusStandIn]:
    with InfoplusStandIn() as standin:
        yield standin


@pytest.fixture
def shopify() -> Iterator[ShopifyStandIn]:
    with ShopifyStandIn() as standin:
        yield standin


def new_order(**overrides: Any) -> dict[str, Any]:
    order = {"lobId": 10000, "warehouseId": 1000, "orderSourceId": 55, "customerOrderNo": "1001",
             "billToCompany": "Jane Doe", "billToStreet": "1 Main St",
             "lineItems": [{"sku": "SKU-1", "orderedQty": 2}]}
    return {**order, **overrides}


def post_order(standin: InfoplusStandIn, order: dict[str, Any], **kw: Any) -> requests.Response:
    return requests.post(standin.url("order"), json=order, headers=KEY, timeout=5, **kw)


def search(standin: InfoplusStandIn, **params: Any) -> requests.Response:
    return requests.get(standin.url("order/search"), params=params, headers=KEY, timeout=5)


def graphql(standin: ShopifyStandIn, query: str, variables: dict | None = None,
            version: str = "2026-01", headers: dict | None = None) -> requests.Response:
    return requests.post(standin.url(f"/admin/api/{version}/graphql.json"),
                         json={"query": query, "variables": variables or {}},
                         headers=TOKEN if headers is None else headers, timeout=5)


# ---- Infoplus: authentication ------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"API-Key": "wrong"}, {"api-key": "TEST-KEY"}])
def test_infoplus_refuses_requests_without_the_api_key(infoplus, headers):
    answer = requests.get(infoplus.url("order/search"), headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json() == {"errors": ["Invalid API Key"]}


def test_infoplus_header_name_is_case_insensitive(infoplus):
    answer = requests.get(infoplus.url("order/search"), headers={"api-key": "test-key"}, timeout=5)
    assert answer.status_code == 200


# ---- Infoplus: orders --------------------------------------------------------------------------
def test_order_create_get_search_roundtrip(infoplus):
    first = post_order(infoplus, new_order())
    second = post_order(infoplus, new_order(customerOrderNo="1002"))
    assert first.status_code == second.status_code == 200
    created = first.json()
    assert (created["orderNo"], second.json()["orderNo"]) == (1000.0, 1001.0)
    assert created["id"] == 1000.0 and created["status"] == "Pending"
    assert created["createDate"] and created["modifyDate"]
    assert created["lineItems"] == [{"lobId": 10000, "sku": "SKU-1", "orderedQty": 2}]
    for path in ("order/1000", "order/1000.0", "order/1000.000"):
        assert requests.get(infoplus.url(path), headers=KEY, timeout=5).json() == created
    found = search(infoplus, filter="customerOrderNo eq '1001' and lobId eq 10000")
    assert found.json() == [created]
    assert infoplus.orders_for("1001") == [created]
    assert [o["orderNo"] for o in infoplus.orders] == [1000.0, 1001.0]


def test_unknown_order_is_404(infoplus):
    for path in ("order/999", "order/nope"):
        answer = requests.get(infoplus.url(path), headers=KEY, timeout=5)
        assert answer.status_code == 404
        assert answer.json() == {"errors": ["Order not found"]}


def test_backorder_children_are_found_by_customer_order_no(infoplus):
    parent = post_order(infoplus, new_order(customerOrderNo="1234")).json()
    child = infoplus.add_order({**parent, "orderNo": 1000.001, "status": "Backorder"})
    assert requests.get(infoplus.url("order/1000.001"), headers=KEY, timeout=5).json() == child
    found = search(infoplus, filter="customerOrderNo eq '1234'").json()
    assert [o["orderNo"] for o in found] == [1000.0, 1000.001]
    assert len(infoplus.orders_for("1234")) == 2
    assert post_order(infoplus, new_order()).json()["orderNo"] == 1001.0


def test_seeded_order_numbers_are_never_reused(infoplus):
    infoplus.add_order({"orderNo": 1500.0, "customerOrderNo": "X"})
    assert post_order(infoplus, new_order()).json()["orderNo"] == 1501.0
    with pytest.raises(ValueError):
        infoplus.add_order({"orderNo": 1500.0})


def test_missing_bill_to_company_is_422_naming_the_field(infoplus):
    order = new_order()
    del order["billToCompany"]
    answer = post_order(infoplus, order)
    assert answer.status_code == 422
    assert answer.json() == {"errors": ["billToCompany is required"]}
    assert infoplus.orders == []


@pytest.mark.parametrize("change, message", [
    ({"lobId": None}, "lobId is required"),
    ({"warehouseId": ""}, "warehouseId is required"),
    ({"lobId": "acme"}, "lobId must be a number"),
    ({"lineItems": []}, "lineItems must contain at least one line item"),
    ({"lineItems": [{"orderedQty": 1}]}, "lineItems[0].sku is required"),
    ({"lineItems": [{"sku": "A", "orderedQty": 0}]},
     "lineItems[0].orderedQty must be a whole number greater than 0"),
    ({"shipToStreet": "9 Elm Ave"}, "shipToCompany is required when a ship-to address is given"),
])
def test_order_validation_errors(infoplus, change, message):
    answer = post_order(infoplus, new_order(**change))
    assert answer.status_code == 422
    assert message in answer.json()["errors"]


def test_known_skus_reject_unknown_items():
    with InfoplusStandIn(known_skus={10000: {"SKU-1"}}) as standin:
        answer = post_order(standin, new_order(lineItems=[{"sku": "SKU-1", "orderedQty": 1},
                                                          {"sku": "NOPE", "orderedQty": 1}]))
        assert answer.status_code == 422
        assert answer.json() == {"errors": ["Item not found: NOPE"]}
        assert post_order(standin, new_order()).status_code == 200
        assert post_order(standin, new_order(lobId=20000)).status_code == 422


def test_body_that_is_not_json_is_400(infoplus):
    answer = requests.post(infoplus.url("order"), data=b"{nope", headers=KEY, timeout=5)
    assert answer.status_code == 400
    assert "errors" in answer.json()


def test_sandbox_orders_view_needs_no_key(infoplus):
    post_order(infoplus, new_order())
    answer = requests.get(infoplus.url("/_sandbox/orders"), timeout=5)
    assert answer.status_code == 200
    assert [o["customerOrderNo"] for o in answer.json()] == ["1001"]


# ---- Infoplus: filter grammar, sort and paging ------------------------------------------------
@pytest.fixture
def three_orders(infoplus) -> InfoplusStandIn:
    for number, status in (("A-1", "Pending"), ("A-2", "Shipped"), ("12345", "Shipped")):
        post_order(infoplus, new_order(customerOrderNo=number))
        infoplus.update_order(infoplus.orders[-1]["orderNo"], status=status)
    return infoplus


@pytest.mark.parametrize("text, expected", [
    ("customerOrderNo eq 'A-1'", [1000.0]),
    ('customerOrderNo eq "A-2"', [1001.0]),
    ("customerOrderNo eq 12345", [1002.0]),  # numeric literal against a string field
    ("orderNo eq 1001", [1001.0]),
    ("orderNo eq 1001.0", [1001.0]),
    ("orderNo gt 1000", [1001.0, 1002.0]),
    ("orderNo le 1001", [1000.0, 1001.0]),
    ("status eq 'Shipped' and orderNo lt 1002", [1001.0]),
    ("status eq 'Shipped' and modifyDate gt '2000-01-01'", [1001.0, 1002.0]),
    ("modifyDate lt '2000-01-01T00:00:00Z'", []),
    ("customerOrderNo like 'a-%'", [1000.0, 1001.0]),
    ("lobId eq 10000 and warehouseId eq 1000 and customerOrderNo eq 'A-1'", [1000.0]),
    ("", [1000.0, 1001.0, 1002.0]),
])
def test_filter_grammar(three_orders, text, expected):
    answer = search(three_orders, filter=text)
    assert answer.status_code == 200, answer.text
    assert [o["orderNo"] for o in answer.json()] == expected


@pytest.mark.parametrize("text", [
    "customerOrderNo = 'A-1'",
    "customerOrderNo eq A-1",
    "status eq 'Shipped' or orderNo eq 1000",
    "(orderNo eq 1000)",
    "orderNo eq 1000 and",
    "customerOrderNumber eq 'A-1'",  # unknown field
    "status gt 3",  # neither numbers nor dates
])
def test_filter_outside_the_grammar_is_400(three_orders, text):
    answer = search(three_orders, filter=text)
    assert answer.status_code == 400
    assert answer.json()["errors"]


def test_search_sorts_and_pages(three_orders):
    assert [o["orderNo"] for o in search(three_orders, sort="!orderNo").json()] == [
        1002.0, 1001.0, 1000.0]
    assert [o["orderNo"] for o in search(three_orders, limit=2, page=2).json()] == [1002.0]
    assert search(three_orders, limit=2, page=3).json() == []
    assert search(three_orders, limit=250).status_code == 200
    assert search(three_orders, limit=251).status_code == 400
    assert search(three_orders, page=0).status_code == 400


def test_default_page_size_is_20(infoplus):
    for n in range(21):
        infoplus.add_order({"customerOrderNo": str(n)})
    assert len(search(infoplus).json()) == 20
    assert len(search(infoplus, page=2).json()) == 1


# ---- fault injection (shared by every stand-in) ------------------------------------------------
def test_fail_next_429_with_retry_after_then_recovers(infoplus):
    infoplus.fail_next(2, status=429, retry_after=1)
    answers = [search(infoplus) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "1"
    assert "Retry-After" not in answers[2].headers
    assert infoplus.count("GET", r"order/search$") == 3
    assert [c.status for c in infoplus.calls] == [429, 429, 200]


def test_fail_next_500_only_on_matching_paths(infoplus):
    infoplus.fail_next(1, status=500, path_regex=r"/order$")
    assert search(infoplus).status_code == 200
    failed = post_order(infoplus, new_order())
    assert failed.status_code == 500 and failed.json()["errors"]
    assert infoplus.orders == []
    assert post_order(infoplus, new_order()).status_code == 200


def test_fault_with_custom_body_and_headers(infoplus):
    infoplus.fail_next(1, status=503, body={"errors": ["down"]}, headers={"X-Why": "test"})
    answer = search(infoplus)
    assert (answer.status_code, answer.json(), answer.headers["X-Why"]) == (503, {"errors": ["down"]},
                                                                            "test")


def test_delay_slows_answers_and_can_time_a_client_out(infoplus):
    infoplus.delay(0.3)
    started = time.monotonic()
    assert search(infoplus).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        requests.get(infoplus.url("order/search"), headers=KEY, timeout=0.1)
    infoplus.delay(0)
    started = time.monotonic()
    search(infoplus)
    assert time.monotonic() - started < 0.3


def test_reset_faults_clears_failures_and_delays(infoplus):
    infoplus.fail_next(5, status=500)
    infoplus.delay(5)
    infoplus.reset_faults()
    assert search(infoplus).status_code == 200


def test_reset_forgets_orders_calls_and_numbers(infoplus):
    post_order(infoplus, new_order())
    infoplus.reset()
    assert infoplus.orders == [] and infoplus.calls == []
    assert post_order(infoplus, new_order()).json()["orderNo"] == 1000.0


# ---- the base server ---------------------------------------------------------------------------
class Echo(StandIn):
    name = "echo"

    def _echo(self, req: Request) -> Response:
        return ok({"path": req.path, "query": req.query, "json": req.json})

    def _crash(self, req: Request) -> Response:
        raise RuntimeError("boom")


def test_standin_base_routes_logs_and_stops():
    echo = Echo()
    echo.add_route("POST", r"/echo/(?P<x>\d+)", echo._echo)
    echo.add_route("GET", r"/crash", echo._crash)
    assert echo.base_url.startswith("http://127.0.0.1:") and echo.port > 0
    with echo:
        answer = requests.post(echo.url("/echo/7?a=1&b="), json={"k": "v"}, timeout=5)
        assert answer.json() == {"path": "/echo/7", "query": {"a": "1", "b": ""}, "json": {"k": "v"}}
        assert requests.get(echo.url("/echo/7"), timeout=5).status_code == 404
        assert requests.get(echo.url("/crash"), timeout=5).status_code == 500
        call = echo.calls[0]
        assert (call.method, call.path, call.json, call.status) == ("POST", "/echo/7", {"k": "v"}, 200)
        assert call.headers["content-type"] == call.headers["Content-Type"] == "application/json"
        assert echo.count("POST", r"^/echo/") == 1 and echo.count() == 3
        chunked = requests.post(echo.url("/echo/8"), data=iter([b'{"k":', b' 1}']), timeout=5)
        assert chunked.json()["json"] == {"k": 1}
    with pytest.raises(requests.ConnectionError):
        requests.get(echo.url("/echo/7"), timeout=1)


# ---- Shopify -----------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"X-Shopify-Access-Token": "shpat_wrong"}])
def test_shopify_refuses_a_bad_token(shopify, headers):
    answer = graphql(shopify, "{ shop { name } }", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"errors": "[API] Invalid API key or access token (unrecognized login "
                                       "or wrong password)"}


def test_shop_query_carries_cost_extensions(shopify):
    answer = graphql(shopify, "query { shop { name } }").json()
    assert answer["data"] == {"shop": {"name": "Sandbox Shop"}}
    cost = answer["extensions"]["cost"]
    assert cost["requestedQueryCost"] >= 1 and cost["actualQueryCost"] >= 1
    assert cost["throttleStatus"]["maximumAvailable"] == 2000
    assert cost["throttleStatus"]["restoreRate"] == 100
    assert 0 < cost["throttleStatus"]["currentlyAvailable"] <= 2000


def test_throttle_next_answers_throttled_with_http_200(shopify):
    shopify.throttle_next(2)
    answers = [graphql(shopify, "{ shop { name } }") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    throttled = answers[0].json()
    assert "data" not in throttled
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["actualQueryCost"] is None
    assert "errors" in answers[1].json() and "errors" not in answers[2].json()


def test_query_over_the_single_query_limit_is_refused(shopify):
    query = """{ productVariants(first: 250) { nodes { inventoryItem {
                 inventoryLevels(first: 250) { nodes { id } } } } } }"""
    answer = graphql(shopify, query).json()
    assert answer["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


VARIANTS = """query Variants($q: String!) {
  productVariants(first: 10, query: $q) {
    nodes { id sku inventoryPolicy inventoryItem { id tracked
      level: inventoryLevel(locationId: "gid://shopify/Location/1") {
        quantities(names: ["available"]) { name quantity } } } } } }"""

SET_QUANTITIES = """mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: "k1") {
    inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
    userErrors { code field message } } }"""


def set_input(item_id: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"input": {"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": item_id, "locationId": "gid://shopify/Location/1",
         "quantity": quantity, **extra}]}}


def test_product_variants_by_sku_return_only_selected_fields(shopify):
    variant = shopify.add_variant("SKU-1", quantity=3, inventory_policy="CONTINUE")
    shopify.add_variant("SKU-2")
    nodes = graphql(shopify, VARIANTS, {"q": "sku:SKU-1"}).json()["data"]["productVariants"]["nodes"]
    assert nodes == [{"id": variant["id"], "sku": "SKU-1", "inventoryPolicy": "CONTINUE",
                      "inventoryItem": {"id": variant["inventoryItemId"], "tracked": True,
                                        "level": {"quantities": [{"name": "available",
                                                                  "quantity": 3}]}}}]
    both = graphql(shopify, VARIANTS, {"q": "sku:SKU-1 OR sku:SKU-2"}).json()
    assert len(both["data"]["productVariants"]["nodes"]) == 2
    assert graphql(shopify, VARIANTS, {"q": "sku:NONE"}).json()["data"]["productVariants"] == {
        "nodes": []}


def test_product_variants_needs_first(shopify):
    answer = graphql(shopify, '{ productVariants(query: "sku:A") { nodes { id } } }').json()
    assert answer["errors"][0]["message"] == "you must provide one of first or last"


def test_inventory_set_quantities_sets_available(shopify):
    item = shopify.add_variant("SKU-1", quantity=5)["inventoryItemId"]
    answer = graphql(shopify, SET_QUANTITIES, set_input(item, 25, changeFromQuantity=None)).json()
    group = answer["data"]["inventorySetQuantities"]
    assert group["userErrors"] == []
    assert {"name": "available", "delta": 20, "quantityAfterChange": 25} in \
        group["inventoryAdjustmentGroup"]["changes"]
    assert shopify.available("SKU-1") == 25


def test_inventory_compare_and_swap_rules(shopify):
    item = shopify.add_variant("SKU-1", quantity=5)["inventoryItemId"]
    stale = graphql(shopify, SET_QUANTITIES, set_input(item, 9, changeFromQuantity=4)).json()
    assert stale["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == \
        "CHANGE_FROM_QUANTITY_STALE"
    missing = graphql(shopify, SET_QUANTITIES, set_input(item, 9), version="2026-04").json()
    assert missing["errors"] and missing["data"]["inventorySetQuantities"] is None
    legacy = graphql(shopify, SET_QUANTITIES, set_input(item, 9), version="2025-10").json()
    assert legacy["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == \
        "COMPARE_QUANTITY_REQUIRED"
    assert shopify.available("SKU-1") == 5
    fresh = graphql(shopify, SET_QUANTITIES, set_input(item, 9, changeFromQuantity=5)).json()
    assert fresh["data"]["inventorySetQuantities"]["userErrors"] == []
    assert shopify.available("SKU-1") == 9


def test_inventory_unknown_item_is_a_user_error(shopify):
    answer = graphql(shopify, SET_QUANTITIES,
                     set_input("gid://shopify/InventoryItem/404", 1, changeFromQuantity=None))
    errors = answer.json()["data"]["inventorySetQuantities"]["userErrors"]
    assert errors[0]["code"] == "INVALID_INVENTORY_ITEM"


ORDER = """query Order($id: ID!) { order(id: $id) { id displayFulfillmentStatus
  fulfillmentOrders(first: 10) { nodes { id status
    lineItems(first: 50) { nodes { id remainingQuantity lineItem { sku } } } } }
  fulfillments(first: 10) { id trackingInfo { company number url } } } }"""

FULFIL = """mutation Fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message } } }"""


def test_order_fulfillment_flow(shopify):
    shopify.add_order(450789469, [{"id": 466157049, "sku": "SKU-1", "quantity": 2}], name="#1001")
    order = graphql(shopify, ORDER, {"id": "gid://shopify/Order/450789469"}).json()["data"]["order"]
    assert order["displayFulfillmentStatus"] == "UNFULFILLED" and order["fulfillments"] == []
    fo = order["fulfillmentOrders"]["nodes"][0]
    assert fo["status"] == "OPEN"
    assert fo["lineItems"]["nodes"][0]["remainingQuantity"] == 2
    tracking = {"company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999"}
    created = graphql(shopify, FULFIL, {"fulfillment": {
        "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}],
        "trackingInfo": tracking, "notifyCustomer": False}}).json()["data"]["fulfillmentCreate"]
    assert created["userErrors"] == []
    assert created["fulfillment"]["trackingInfo"] == [tracking]
    after = graphql(shopify, ORDER, {"id": "gid://shopify/Order/450789469"}).json()["data"]["order"]
    assert after["displayFulfillmentStatus"] == "FULFILLED"
    assert after["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    assert after["fulfillments"][0]["trackingInfo"] == [tracking]
    assert shopify.fulfillments(450789469)[0]["notifyCustomer"] is False
    again = graphql(shopify, FULFIL, {"fulfillment": {
        "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}}).json()
    assert again["data"]["fulfillmentCreate"]["userErrors"]


def test_partial_fulfillment_and_unknown_order(shopify):
    stored = shopify.add_order(7, [{"sku": "SKU-1", "quantity": 3}])
    fo = stored["fulfillmentOrders"][0]
    line = fo["lineItems"][0]["id"]
    variables = {"fulfillment": {"lineItemsByFulfillmentOrder": [
        {"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": [{"id": line, "quantity": 1}]}]}}
    assert graphql(shopify, FULFIL, variables).json()["data"]["fulfillmentCreate"]["userErrors"] == []
    order = graphql(shopify, ORDER, {"id": "gid://shopify/Order/7"}).json()["data"]["order"]
    assert order["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    assert graphql(shopify, ORDER, {"id": "gid://shopify/Order/8"}).json()["data"] == {"order": None}


def test_unknown_root_field_and_syntax_errors(shopify):
    unknown = graphql(shopify, "{ nope { id } }").json()
    assert unknown["errors"][0]["message"] == "Field 'nope' doesn't exist on type 'QueryRoot'"
    assert unknown["errors"][0]["extensions"]["code"] == "undefinedField" and "data" not in unknown
    assert graphql(shopify, "{ shop { name }").json()["errors"]
    missing = requests.post(shopify.url("/admin/api/2026-01/graphql.json"), json={},
                            headers=TOKEN, timeout=5)
    assert missing.status_code == 400
    assert [r["query"] for r in shopify.take_invalid_requests()] == ["{ nope { id } }", "{ shop { name }"]


# Each is valid GraphQL that Shopify's schema refuses; the hand-written parser ran them all.
REFUSED_BY_THE_SCHEMA = {
    "unknown nested field": ('{ shop { name plan } }', {}),
    "argument of the wrong type": ('{ productVariants(first: "ten") { nodes { id } } }', {}),
    "unknown argument": ('{ productVariants(first: 1, sku: "A") { nodes { id } } }', {}),
    "missing required argument": ('{ order { id } }', {}),
    "undeclared variable": ('query { order(id: $id) { id } }', {"id": "gid://shopify/Order/1"}),
    "variable of the wrong type": ('query O($id: Int!) { order(id: $id) { id } }', {"id": 1}),
    "missing required input field": (SET_QUANTITIES, {"input": {"name": "available", "quantities": []}}),
    "unknown enum value": ("""mutation P($variants: [ProductVariantsBulkInput!]!) {
        productVariantsBulkUpdate(productId: "gid://shopify/Product/1", variants: $variants) {
          userErrors { message } } }""", {"variants": [{"id": "gid://shopify/ProductVariant/1",
                                                          "inventoryPolicy": "SOMETIMES"}]}),
    "a string for an Int": (SET_QUANTITIES, {"input": {"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
         "quantity": "5", "changeFromQuantity": None}]}}),
}


@pytest.mark.parametrize("case", sorted(REFUSED_BY_THE_SCHEMA))
def test_requests_shopify_refuses_are_refused_before_anything_runs(shopify, case):
    query, variables = REFUSED_BY_THE_SCHEMA[case]
    shopify.add_variant("SKU-1", quantity=5)
    answer = graphql(shopify, query, variables)
    assert answer.status_code == 200
    body = answer.json()
    assert body["errors"] and "data" not in body, body  # nothing ran
    assert shopify.available("SKU-1") == 5
    assert [r["query"] for r in shopify.take_invalid_requests()] == [query]


def test_variables_reach_resolvers_coerced_to_the_declared_types(shopify):
    item = shopify.add_variant("SKU-1", quantity=5)["inventoryItemId"]
    # An Int variable sent as 9.0 (JSON has one number type) is the Int 9; an ID sent as a number is a string.
    answer = graphql(shopify, SET_QUANTITIES, set_input(item, 9.0, changeFromQuantity=5)).json()
    assert answer["data"]["inventorySetQuantities"]["userErrors"] == []
    assert shopify.available("SKU-1") == 9 and isinstance(shopify.available("SKU-1"), int)


def test_a_request_shopify_would_refuse_fails_the_test_that_sent_it():
    with pytest.raises(AssertionError, match="refused 1 request"):
        with ShopifyStandIn() as standin:
            graphql(standin, "{ shop { name plan } }")


def test_what_the_stand_in_does_not_supply_is_an_error_not_a_null(shopify):
    shopify.add_order(7, [{"sku": "SKU-1", "quantity": 1}])
    unsupplied = graphql(shopify, 'query { order(id: "gid://shopify/Order/7") { id note } }').json()
    assert unsupplied["errors"][0]["extensions"]["code"] == "SANDBOX_UNSUPPORTED"
    assert "Order.note" in unsupplied["errors"][0]["message"]
    unimplemented = graphql(shopify, '{ locations(first: 1) { nodes { id } } }').json()
    assert unimplemented["errors"][0]["extensions"]["code"] == "SANDBOX_UNSUPPORTED"
    assert shopify.invalid_requests == []  # valid requests: the stand-in is what falls short


def test_named_fragments_and_operation_names(shopify):
    query = """query A { shop { ...Names } } query B { shop { id } }
               fragment Names on Shop { name }"""
    answer = requests.post(shopify.url("/admin/api/2026-10/graphql.json"), headers=TOKEN, timeout=5,
                           json={"query": query, "operationName": "A"}).json()
    assert answer["data"] == {"shop": {"name": "Sandbox Shop"}}


def test_shopify_faults_use_the_shared_injection(shopify):
    shopify.fail_next(1, status=503, retry_after=2)
    answer = graphql(shopify, "{ shop { name } }")
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "2")
    assert graphql(shopify, "{ shop { name } }").status_code == 200


# ---- sample deliveries -------------------------------------------------------------------------
def verify_shopify(raw: bytes, header: str, secret: str) -> bool:
    """The receiving side, exactly as in reference/cart-apis.md §1.1."""
    mac = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest())
    return hmac.compare_digest(mac, (header or "").encode())


def test_sample_order_and_headers_are_verifiable():
    order = shopify_order(order_id=450789469, skus=["SKU-1", "SKU-2"])
    assert order["admin_graphql_api_id"] == "gid://shopify/Order/450789469"
    assert [li["sku"] for li in order["line_items"]] == ["SKU-1", "SKU-2"]
    for key in ("first_name", "last_name", "company", "address1", "address2", "city",
                "province_code", "zip", "country_code", "phone"):
        assert key in order["shipping_address"] and key in order["billing_address"]
    body = json.dumps(order).encode()
    headers = shopify_headers(body, "S", webhook_id="w-1")
    assert verify_shopify(body, headers["X-Shopify-Hmac-Sha256"], "S")
    assert not verify_shopify(body + b" ", headers["X-Shopify-Hmac-Sha256"], "S")
    assert not verify_shopify(body, headers["X-Shopify-Hmac-Sha256"], "other")
    assert headers["X-Shopify-Topic"] == "orders/create"
    assert headers["X-Shopify-API-Version"] == "2026-01"
    assert headers["X-Shopify-Webhook-Id"] == "w-1"
    for name in ("X-Shopify-Shop-Domain", "X-Shopify-Event-Id", "X-Shopify-Triggered-At"):
        assert headers[name]


def test_sample_cli_posts_a_signed_delivery(capsys):
    receiver = StandIn()
    receiver.add_route("POST", r"/webhooks/carts/101", lambda req: (202, {}, {"ids": ["e1"]}))
    with receiver:
        code = sample_main(["--url", receiver.url("/webhooks/carts/101"), "--secret", "S",
                            "--order-id", "42"])
    assert code == 0
    call = receiver.calls[0]
    assert call.json["id"] == 42
    assert verify_shopify(call.body, call.headers["X-Shopify-Hmac-Sha256"], "S")
    assert "HTTP 202" in capsys.readouterr().out


# ---- python -m sandbox -------------------------------------------------------------------------
def test_module_runs_every_standin_until_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--infoplus-port", "0",
                             "--shopify-port", "0", "--woocommerce-port", "0",
                             "--bigcommerce-port", "0", "--magento-port", "0"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ,
                                                                  "PYTHONUNBUFFERED": "1"})
    try:
        lines = [proc.stdout.readline()]
        while lines[-1] and not lines[-1].startswith("Ctrl-C") and len(lines) < 40:
            lines.append(proc.stdout.readline())  # the banner ends with the Ctrl-C line
        assert lines[-1].startswith("Ctrl-C"), lines
        infoplus_url = lines[0].split()[2]
        assert requests.get(f"{infoplus_url}/_sandbox/orders", timeout=5).json() == []
        seeded = requests.get(f"{infoplus_url}/_sandbox/state", timeout=5).json()
        assert [(i["lobId"], i["sku"]) for i in seeded["items"]] == [(10000, "SKU-1"),
                                                                     (10000, "SKU-2")]
        assert [c["id"] for c in seeded["connections"]] == [101, 102, 103, 104]
        urls = {line.split(":", 1)[0]: line.split()[2] for line in lines if "stand-in:" in line}
        woo = requests.get(f"{urls['WooCommerce stand-in']}/wp-json/wc/v3/products",
                           params={"sku": "SKU-1"}, auth=("ck_test", "cs_test"), timeout=5)
        assert [p["stock_quantity"] for p in woo.json()] == [0]
        bc = requests.get(f"{urls['BigCommerce stand-in']}/stores/abc123/v3/catalog/variants",
                          headers={"X-Auth-Token": "bc_test"}, timeout=5)
        assert [v["sku"] for v in bc.json()["data"]] == ["SKU-1", "SKU-2"]
        magento = requests.get(f"{urls['Magento stand-in']}/_sandbox/state", timeout=5).json()
        assert [(i["sku"], i["source_code"]) for i in magento["source_items"]] == [("SKU-1", "default"),
                                                                                  ("SKU-2", "default")]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
