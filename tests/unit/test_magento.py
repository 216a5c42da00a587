"""Magento pieces that need no network: the OAuth 1.0a signer against RFC 5849's own examples, the search
criteria encoding, and the order schema's paid rule and line rules."""
from __future__ import annotations

import pytest
import requests
from marshmallow import ValidationError

from carts.magento.api import search_criteria
from carts.magento.auth import OAuth1, base_string, sign
from carts.magento.deliveries import order_delivery
from sandbox.magento import order_json
from schemas.magento import MagentoOrderSchema

RFC_QUERY = "b5=%3D%253D&a3=a&c%40=&a2=r%20b"
RFC_BASE_STRING = (  # RFC 5849 §3.4.1.1, joined
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
    "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
    "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7")


def test_the_base_string_is_rfc_5849s_own_example():
    oauth = {"oauth_consumer_key": "9djdj82h48djs9d2", "oauth_token": "kkk9d7dh3k39sjv7",
             "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131201", "oauth_nonce": "7d8f3e4a"}
    assert base_string("POST", f"http://example.com/request?{RFC_QUERY}", oauth, "c2&a3=2+q") == RFC_BASE_STRING


def test_default_ports_and_case_drop_out_of_the_base_string_uri():
    assert base_string("get", "HTTPS://Shop.Example.COM:443/rest/V1/orders", {}).startswith(
        "GET&https%3A%2F%2Fshop.example.com%2Frest%2FV1%2Forders&")
    assert "%3A8443%2F" in base_string("GET", "https://shop.example.com:8443/x", {})


def test_the_signing_steps_reproduce_rfc_5849s_signature():
    oauth = {"oauth_consumer_key": "dpf43f3p2l4k3l03", "oauth_token": "nnch734d00sl2jdk",
             "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131202", "oauth_nonce": "chapoH"}
    base = base_string("GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", oauth)
    assert sign(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", "HMAC-SHA1") == "MdpQcU8iPSUjWoN/UDMsK2sui9I="  # §1.2


def test_a_signed_request_carries_the_published_signature():
    signer = OAuth1("dpf43f3p2l4k3l03", "kd94hf93k423kf44", "nnch734d00sl2jdk", "pfkkdhi9sl3r4s00",
                    method="HMAC-SHA1", clock=lambda: 1191242096, nonce=lambda: "kllo9940pd9333jh")
    request = requests.Request("GET", "http://photos.example.net/photos",
                               params={"file": "vacation.jpg", "size": "original"}).prepare()
    header = signer(request).headers["Authorization"]
    assert header.startswith("OAuth ")
    assert 'oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"' in header  # OAuth Core 1.0, appendix A.5


def test_the_signer_defaults_to_hmac_sha256_and_never_shows_its_secrets():
    signer = OAuth1("ck", "consumer-secret", "tok", "token-secret")
    header = signer(requests.Request("GET", "https://shop.example.com/rest/default/V1/orders").prepare()) \
        .headers["Authorization"]
    assert 'oauth_signature_method="HMAC-SHA256"' in header and 'oauth_version="1.0"' in header
    assert "consumer-secret" not in header and "token-secret" not in header
    assert "secret" not in repr(signer)


def test_search_criteria_are_magentos_bracketed_query_parameters():
    params = search_criteria([[("updated_at", "2026-11-27 10:00:00", "gteq")], [("sku", "A,B", "in"),
                              ("sku", "C", "eq")]], sort=[("entity_id", "ASC")], page_size=100, page=2)
    assert params == {
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2026-11-27 10:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[filter_groups][1][filters][0][field]": "sku",
        "searchCriteria[filter_groups][1][filters][0][value]": "A,B",
        "searchCriteria[filter_groups][1][filters][0][condition_type]": "in",
        "searchCriteria[filter_groups][1][filters][1][field]": "sku",
        "searchCriteria[filter_groups][1][filters][1][value]": "C",
        "searchCriteria[filter_groups][1][filters][1][condition_type]": "eq",
        "searchCriteria[sortOrders][0][field]": "entity_id", "searchCriteria[sortOrders][0][direction]": "ASC",
        "searchCriteria[pageSize]": "100", "searchCriteria[currentPage]": "2"}
    assert search_criteria([]) == {"searchCriteria": ""}


@pytest.mark.parametrize("state, paid, cancelled, fulfilled", [
    ("processing", True, False, False), ("new", False, False, False), ("pending_payment", False, False, False),
    ("payment_review", False, False, False), ("holded", False, False, False), ("canceled", False, True, False),
    ("closed", False, True, False), ("complete", False, False, True)])
def test_the_paid_rule_reads_the_state(state, paid, cancelled, fulfilled):
    order = MagentoOrderSchema().load(order_json(7, state))
    assert (order.paid, order.cancelled, order.fulfilled_in_cart) == (paid, cancelled, fulfilled)


def test_an_order_maps_to_the_normalized_order():
    raw = order_json(12, "processing", status="processing_custom", created_at="2026-11-27 10:00:00",
                     updated_at="2026-11-27 10:05:00", items=[{"sku": "SKU-1", "qty": 2, "price": 12.5}])
    order = MagentoOrderSchema().load(raw)
    assert (order.cart_order_id, order.name, order.created_at, order.updated_at, order.cart_status) == (
        "12", "#000000012", "2026-11-27T10:00:00+00:00", "2026-11-27T10:05:00+00:00", "processing/processing_custom")
    assert [(line.cart_line_id, line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("1201", "SKU-1", 2, 12.5)]
    assert (order.ship_to.street, order.ship_to.street2, order.ship_to.state, order.ship_to.zip,
            order.ship_to.country, order.ship_to.name) == ("123 Oak Ave", "Suite 4", "NY", "10577", "US", "Jane Doe")
    assert order.email == "jdoe@example.com" and order.shipping_method == "Flat Rate - Fixed"


def test_composite_products_become_the_lines_a_warehouse_ships():
    items = [{"sku": "MH01-S-Gray", "qty": 1, "price": 52, "product_type": "configurable"},   # item 901
             {"sku": "MH01-S-Gray", "qty": 1, "price": 0, "parent_item_id": 901},             # its child
             {"sku": "KIT-A-B", "qty": 1, "price": 68, "product_type": "bundle"},              # item 903
             {"sku": "BALL", "qty": 1, "price": 27, "parent_item_id": 903},
             {"sku": "BRICK", "qty": 2, "price": 5, "parent_item_id": 903},
             {"sku": "EBOOK", "qty": 1, "price": 9, "product_type": "downloadable", "is_virtual": True}]
    order = MagentoOrderSchema().load(order_json(9, items=items))
    assert [(line.sku, line.quantity, line.requires_shipping) for line in order.lines] == [
        ("MH01-S-Gray", 1, True), ("BALL", 1, True), ("BRICK", 2, True), ("EBOOK", 1, False)]


def test_one_order_version_is_one_event_id_and_a_bad_order_is_refused():
    raw = order_json(5, updated_at="2026-11-27 10:05:00")
    assert order_delivery(raw, {}).dedupe_key == order_delivery(dict(raw), {"via": "polling"}).dedupe_key
    assert order_delivery(raw, {}).dedupe_key != order_delivery({**raw, "updated_at": "2026-11-27 10:05:01"},
                                                                {}).dedupe_key
    with pytest.raises(ValidationError):
        order_delivery({**raw, "items": []}, {})
