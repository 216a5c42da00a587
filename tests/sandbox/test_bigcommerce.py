"""The BigCommerce stand-in: store-hash paths, X-Auth-Token, rate-limit headers and 429s, thin
v2 orders with products/addresses/shipments, and v3 absolute inventory adjustments."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any, Iterator

import pytest
import requests

from sandbox import BigCommerceStandIn

TOKEN = {"X-Auth-Token": "bc_test"}
RATE_HEADERS = ("X-Rate-Limit-Time-Window-Ms", "X-Rate-Limit-Time-Reset-Ms",
                "X-Rate-Limit-Requests-Quota", "X-Rate-Limit-Requests-Left")


@pytest.fixture
def bc() -> Iterator[BigCommerceStandIn]:
    with BigCommerceStandIn() as standin:
        yield standin


def call(bc: BigCommerceStandIn, method: str, path: str, body: Any = None,
         headers: dict | None = None, **params: Any) -> requests.Response:
    return requests.request(method, bc.url(path), json=body, params=params,
                            headers=TOKEN if headers is None else headers, timeout=5)


def ship(bc: BigCommerceStandIn, order_id: int, items: list[dict],
         **extra: Any) -> requests.Response:
    address = bc.shipping_addresses(order_id)[0]["id"]
    body = {"order_address_id": address, "tracking_number": "1Z999", "shipping_provider": "ups",
            "items": items, **extra}
    return call(bc, "POST", f"v2/orders/{order_id}/shipments", body)


# ---- auth, paths, rate limits ------------------------------------------------------------------
def test_paths_live_under_the_store_hash(bc):
    assert bc.api_base_url == bc.base_url
    bc.add_order(100)
    assert call(bc, "GET", "/stores/abc123/v2/orders/100").status_code == 200
    assert call(bc, "GET", "/stores/other/v2/orders/100").status_code == 404


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "wrong"}])
def test_bad_token_is_401_in_each_versions_shape(bc, headers):
    v2 = call(bc, "GET", "v2/orders/100", headers=headers)
    assert v2.status_code == 401
    assert v2.json()[0]["status"] == 401 and v2.json()[0]["message"]
    v3 = call(bc, "GET", "v3/catalog/variants", headers=headers)
    assert v3.status_code == 401 and v3.json()["status"] == 401 and v3.json()["title"]
    for name in RATE_HEADERS:
        assert name in v2.headers


def test_every_answer_carries_rate_limit_headers(bc):
    first = call(bc, "GET", "v3/catalog/variants")
    second = call(bc, "GET", "v2/orders/999")  # a 404 too
    assert second.status_code == 404
    assert first.headers["X-Rate-Limit-Requests-Quota"] == "150"
    assert first.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
    assert int(first.headers["X-Rate-Limit-Requests-Left"]) == 149
    assert int(second.headers["X-Rate-Limit-Requests-Left"]) == 148
    assert 0 < int(first.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 30000


def test_rate_limit_next_answers_429_without_retry_after(bc):
    bc.rate_limit_next(2, reset_ms=1500)
    answers = [call(bc, "GET", "v3/catalog/variants") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    refused = answers[0]
    assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert refused.headers["X-Rate-Limit-Time-Reset-Ms"] == "1500"
    assert "Retry-After" not in refused.headers
    assert refused.json()["status"] == 429
    assert bc.throttled == 2


def test_quota_exhaustion_is_a_real_window():
    with BigCommerceStandIn(quota=3, window_ms=1000) as small:
        codes = [call(small, "GET", "v3/catalog/variants").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = call(small, "GET", "v3/catalog/variants")
        wait_ms = int(refused.headers["X-Rate-Limit-Time-Reset-Ms"])
        assert 0 < wait_ms <= 1000
        requests.get(small.url("/_sandbox/state"), timeout=5)  # debug view: not counted
        time.sleep(wait_ms / 1000 + 0.05)
        assert call(small, "GET", "v3/catalog/variants").status_code == 200


def test_injected_faults_still_carry_rate_headers(bc):
    bc.fail_next(1, status=500)
    failed = call(bc, "GET", "v3/catalog/variants")
    assert failed.status_code == 500 and "X-Rate-Limit-Requests-Left" in failed.headers


# ---- v2 orders ---------------------------------------------------------------------------------
def test_order_and_its_parts(bc):
    bc.add_variant("SKU-1")
    bc.add_order(250, products=[{"sku": "SKU-1", "quantity": 2, "price": "10.00"},
                                {"sku": "SKU-2", "quantity": 1, "price": "5.00"}],
                 customer_message="Leave at door")
    order = call(bc, "GET", "v2/orders/250").json()
    assert (order["id"], order["status_id"], order["status"]) == (250, 11, "Awaiting Fulfillment")
    assert order["total_inc_tax"] == "25.0000" and order["currency_code"] == "USD"
    assert order["customer_message"] == "Leave at door"
    assert parsedate_to_datetime(order["date_created"]).tzinfo is not None  # RFC 2822
    for key in ("first_name", "last_name", "company", "street_1", "street_2", "city", "state",
                "zip", "country", "country_iso2", "phone", "email"):
        assert key in order["billing_address"]
    assert order["products"]["resource"] == "/orders/250/products"  # thin: a link, not the rows
    products = call(bc, "GET", "v2/orders/250/products").json()
    assert [(p["sku"], p["quantity"], p["quantity_shipped"]) for p in products] == [
        ("SKU-1", 2, 0), ("SKU-2", 1, 0)]
    addresses = call(bc, "GET", "v2/orders/250/shipping_addresses").json()
    assert len(addresses) == 1 and addresses[0]["shipping_method"] == "Flat Rate"
    assert {p["order_address_id"] for p in products} == {addresses[0]["id"]}
    for key in ("first_name", "street_1", "zip", "country_iso2", "email"):
        assert key in addresses[0]


def test_order_products_use_catalog_ids(bc):
    variant = bc.add_variant("SKU-1")
    bc.add_order(1, products=[{"sku": "SKU-1", "quantity": 1, "price": "1"}])
    product = bc.order_products(1)[0]
    assert (product["product_id"], product["variant_id"]) == (variant["product_id"], variant["id"])


def test_unknown_order_is_404_list_shape(bc):
    for path in ("v2/orders/9", "v2/orders/9/products", "v2/orders/9/shipments"):
        answer = call(bc, "GET", path)
        assert answer.status_code == 404 and answer.json()[0]["status"] == 404


def test_empty_v2_collection_is_204(bc):
    bc.add_order(1)
    answer = call(bc, "GET", "v2/orders/1/shipments")
    assert answer.status_code == 204 and answer.content == b""


def test_put_order_status(bc):
    bc.add_order(1)
    answer = call(bc, "PUT", "v2/orders/1", {"status_id": 5})
    assert answer.status_code == 200
    assert (answer.json()["status_id"], answer.json()["status"]) == (5, "Cancelled")
    bad = call(bc, "PUT", "v2/orders/1", {"status_id": 42})
    assert bad.status_code == 400 and "status_id" in bad.json()[0]["message"]
    assert bc.order(1)["status_id"] == 5


# ---- v2 shipments ------------------------------------------------------------------------------
def test_partial_then_full_shipment(bc):
    bc.add_order(1, products=[{"sku": "SKU-1", "quantity": 2, "price": "1"},
                              {"sku": "SKU-2", "quantity": 1, "price": "1"}])
    first, second = bc.order_products(1)
    partial = ship(bc, 1, [{"order_product_id": first["id"], "quantity": 1}])
    assert partial.status_code == 201, partial.text
    shipment = partial.json()
    assert shipment["tracking_number"] == "1Z999" and shipment["shipping_provider"] == "ups"
    assert shipment["items"] == [{"order_product_id": first["id"],
                                  "product_id": first["product_id"], "quantity": 1}]
    assert (bc.order(1)["status_id"], bc.order(1)["status"]) == (3, "Partially Shipped")
    assert [p["quantity_shipped"] for p in bc.order_products(1)] == [1, 0]
    rest = ship(bc, 1, [{"order_product_id": first["id"], "quantity": 1},
                        {"order_product_id": second["id"], "quantity": 1}])
    assert rest.status_code == 201
    assert bc.order(1)["status_id"] == 2 and bc.order(1)["date_shipped"]
    listed = call(bc, "GET", "v2/orders/1/shipments").json()
    assert [s["id"] for s in listed] == [s["id"] for s in bc.shipments(1)] and len(listed) == 2
    assert [e["template"] for e in bc.emails] == ["shipment", "shipment"]


@pytest.mark.parametrize("change, fragment", [
    ({"order_address_id": None}, "order_address_id"),
    ({"items": []}, "items"),
    ({"order_address_id": 1}, "order_address_id"),
    ({"shipping_provider": "UPS"}, "shipping_provider"),
    ({"items": [{"order_product_id": 1, "quantity": 1}]}, "not part of"),
    ({"items": "all"}, "items"),
])
def test_shipment_validation(bc, change, fragment):
    bc.add_order(1, products=[{"sku": "SKU-1", "quantity": 2, "price": "1"}])
    body = {"order_address_id": bc.shipping_addresses(1)[0]["id"], "shipping_provider": "ups",
            "tracking_number": "1Z", "items": [{"order_product_id": bc.order_products(1)[0]["id"],
                                               "quantity": 1}], **change}
    answer = call(bc, "POST", "v2/orders/1/shipments", body)
    assert answer.status_code == 400
    assert fragment in answer.json()[0]["message"]
    assert bc.shipments(1) == [] and bc.emails == []


def test_cannot_ship_more_than_is_left(bc):
    bc.add_order(1, products=[{"sku": "SKU-1", "quantity": 2, "price": "1"}])
    line = bc.order_products(1)[0]["id"]
    too_many = ship(bc, 1, [{"order_product_id": line, "quantity": 3}])
    assert too_many.status_code == 400 and "remaining" in too_many.json()[0]["message"]
    split = ship(bc, 1, [{"order_product_id": line, "quantity": 2},
                         {"order_product_id": line, "quantity": 1}])  # duplicates add up
    assert split.status_code == 400
    assert ship(bc, 1, [{"order_product_id": line, "quantity": 2}]).status_code == 201
    again = ship(bc, 1, [{"order_product_id": line, "quantity": 1}])
    assert again.status_code == 400
    assert bc.order_products(1)[0]["quantity_shipped"] == 2 and len(bc.emails) == 1


def test_custom_and_carrier_providers_are_accepted(bc):
    bc.add_order(1, products=[{"sku": "SKU-1", "quantity": 2, "price": "1"}])
    line = bc.order_products(1)[0]["id"]
    assert ship(bc, 1, [{"order_product_id": line, "quantity": 1}], shipping_provider="",
                tracking_carrier="dhl").status_code == 201
    assert ship(bc, 1, [{"order_product_id": line, "quantity": 1}],
                shipping_provider="carrier_7").status_code == 201


# ---- v3 catalog and inventory ------------------------------------------------------------------
def test_variants_by_sku(bc):
    bc.add_variant("SKU-1", quantity=4)
    bc.add_variant("SKU-2")
    answer = call(bc, "GET", "v3/catalog/variants", sku="SKU-1").json()
    assert [(v["sku"], v["inventory_level"]) for v in answer["data"]] == [("SKU-1", 4)]
    assert answer["meta"]["pagination"]["total"] == 1
    assert call(bc, "GET", "v3/catalog/variants", sku="NOPE").json()["data"] == []
    both = call(bc, "GET", "v3/catalog/variants", **{"sku:in": "SKU-1,SKU-2"}).json()
    assert len(both["data"]) == 2


def test_absolute_adjustment_sets_levels(bc):
    variant = bc.add_variant("SKU-1", quantity=4)
    bc.add_variant("SKU-2")
    body = {"reason": "WMS sync", "items": [
        {"location_id": 1, "sku": "SKU-1", "quantity": 25},
        {"location_id": 1, "variant_id": bc.add_variant("SKU-3")["id"], "quantity": 7},
        {"location_id": 1, "product_id": variant["product_id"], "quantity": 26}]}
    answer = call(bc, "PUT", "v3/inventory/adjustments/absolute", body)
    assert answer.status_code == 200 and answer.json()["transaction_id"]
    assert (bc.inventory("SKU-1"), bc.inventory("SKU-3"), bc.inventory("SKU-2")) == (26, 7, 0)
    assert bc.adjustments[0]["reason"] == "WMS sync"


@pytest.mark.parametrize("item, fragment", [
    ({"location_id": 1, "sku": "NOPE", "quantity": 1}, "not found"),
    ({"location_id": 9, "sku": "SKU-1", "quantity": 1}, "location_id"),
    ({"location_id": 1, "quantity": 1}, "exactly one"),
    ({"location_id": 1, "sku": "SKU-1", "variant_id": 5, "quantity": 1}, "exactly one"),
    ({"location_id": 1, "sku": "SKU-1", "quantity": -1}, "quantity"),
    ({"location_id": 1, "sku": "SKU-1", "quantity": "lots"}, "quantity"),
])
def test_bad_adjustment_is_422_and_changes_nothing(bc, item, fragment):
    bc.add_variant("SKU-1", quantity=4)
    body = {"reason": "WMS sync", "items": [{"location_id": 1, "sku": "SKU-1", "quantity": 9},
                                            item]}
    answer = call(bc, "PUT", "v3/inventory/adjustments/absolute", body)
    assert answer.status_code == 422
    error = answer.json()
    assert error["status"] == 422 and error["title"] and fragment in error["errors"]["items.1"]
    assert bc.inventory("SKU-1") == 4 and bc.adjustments == []


def test_adjustment_needs_items(bc):
    assert call(bc, "PUT", "v3/inventory/adjustments/absolute", {"reason": "x"}).status_code == 422
    assert call(bc, "PUT", "v3/inventory/adjustments/absolute", {"reason": "x", "items": [
        {"location_id": 1, "sku": "A", "quantity": 1}] * 2001}).status_code == 422


def test_inventory_per_location(bc):
    bc.add_location(2)
    bc.add_variant("SKU-1", quantity=4)
    call(bc, "PUT", "v3/inventory/adjustments/absolute",
         {"items": [{"location_id": 2, "sku": "SKU-1", "quantity": 3}]})
    assert (bc.inventory("SKU-1", 1), bc.inventory("SKU-1", 2)) == (4, 3)
    total = call(bc, "GET", "v3/catalog/variants", sku="SKU-1").json()["data"][0]
    assert total["inventory_level"] == 7


def test_product_with_several_variants_is_adjusted_per_variant(bc):
    bc.add_variant("SHIRT-S", product_id=500)
    bc.add_variant("SHIRT-L", product_id=500)
    answer = call(bc, "PUT", "v3/inventory/adjustments/absolute",
                  {"items": [{"location_id": 1, "product_id": 500, "quantity": 3}]})
    assert answer.status_code == 422 and "variant" in answer.json()["errors"]["items.0"]
