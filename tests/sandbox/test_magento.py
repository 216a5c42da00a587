"""The Magento stand-in speaks Magento's REST API: `/rest/<store>/V1/` paths, Bearer and OAuth 1.0a (verified from
RFC 5849, not with the product's signer), search criteria, last-page paging, error bodies, shipments, MSI."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Iterator
from urllib.parse import quote, unquote

import pytest
import requests

from sandbox.magento import MagentoStandIn, base_string_uri, hmac_signature, signature_base_string

RFC_BASE_STRING = (  # RFC 5849 §3.4.1.1, joined
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
    "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
    "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7")


@pytest.fixture
def store() -> Iterator[MagentoStandIn]:
    with MagentoStandIn(bearer_allowed=True) as standin:
        yield standin


def bearer(store: MagentoStandIn) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.access_token}"}


def get(store: MagentoStandIn, path: str, params: dict | None = None, headers: dict | None = None):
    return requests.get(store.rest_url(path), params=params, headers=headers or bearer(store), timeout=5)


def oauth_header(store: MagentoStandIn, method: str, url: str, query: str, *, nonce: str = "n1",
                 secret: str | None = None, method_name: str = "HMAC-SHA256") -> str:
    """Signed by hand, step by step as RFC 5849 §3.4 says — the test's own signer, not the product's."""
    params = {"oauth_consumer_key": store.consumer_key, "oauth_token": store.access_token,
              "oauth_signature_method": method_name, "oauth_timestamp": str(int(time.time())),
              "oauth_nonce": nonce, "oauth_version": "1.0"}
    enc = lambda text: quote(text, safe="-._~")  # noqa: E731
    pairs = sorted([(enc(k), enc(v)) for k, v in params.items()] +
                   [(enc(unquote(k)), enc(unquote(v))) for k, v in (p.split("=", 1) for p in query.split("&") if p)])
    base = "&".join([method, enc(url), enc("&".join(f"{k}={v}" for k, v in pairs))])
    key = f"{enc(secret or store.consumer_secret)}&{enc(store.access_token_secret)}".encode()
    digest = hashlib.sha256 if method_name == "HMAC-SHA256" else hashlib.sha1
    params["oauth_signature"] = base64.b64encode(hmac.new(key, base.encode(), digest).digest()).decode()
    return "OAuth " + ", ".join(f'{k}="{enc(v)}"' for k, v in params.items())


# ---- OAuth 1.0a from the RFC ----------------------------------------------------------------------
def test_the_verifiers_base_string_is_rfc_5849s_example():
    oauth = {"realm": "Example", "oauth_consumer_key": "9djdj82h48djs9d2", "oauth_token": "kkk9d7dh3k39sjv7",
             "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131201", "oauth_nonce": "7d8f3e4a",
             "oauth_signature": "bYT5CMsGcbgUdFHObYMEfcx6bsw="}
    uri = base_string_uri("http", "example.com", "/request")
    assert signature_base_string("POST", uri, "b5=%3D%253D&a3=a&c%40=&a2=r%20b", oauth, "c2&a3=2+q") == \
        RFC_BASE_STRING


def test_the_verifier_reproduces_rfc_5849s_signature():
    oauth = {"oauth_consumer_key": "dpf43f3p2l4k3l03", "oauth_token": "nnch734d00sl2jdk",
             "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131202", "oauth_nonce": "chapoH"}
    base = signature_base_string("GET", base_string_uri("http", "photos.example.net:80", "/photos"),
                                 "file=vacation.jpg&size=original", oauth)
    assert hmac_signature("HMAC-SHA1", base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00") == \
        "MdpQcU8iPSUjWoN/UDMsK2sui9I="


@pytest.mark.parametrize("method_name", ["HMAC-SHA256", "HMAC-SHA1"])
def test_a_correctly_signed_request_is_answered(store, method_name):
    query = "searchCriteria%5BpageSize%5D=5"
    url = store.rest_url("orders")
    header = oauth_header(store, "GET", url, query, method_name=method_name)
    response = requests.get(f"{url}?{query}", headers={"Authorization": header}, timeout=5)
    assert response.status_code == 200, store.auth_failures
    assert response.json()["total_count"] == 0


def test_a_bad_signature_a_tampered_query_and_a_replayed_nonce_are_refused(store):
    url, query = store.rest_url("orders"), "searchCriteria%5BpageSize%5D=5"
    wrong = oauth_header(store, "GET", url, query, nonce="a", secret="not-the-secret")
    tampered = oauth_header(store, "GET", url, query, nonce="b")
    good = oauth_header(store, "GET", url, query, nonce="c")
    answers = [requests.get(f"{url}?{q}", headers={"Authorization": h}, timeout=5)
               for h, q in ((wrong, query), (tampered, "searchCriteria%5BpageSize%5D=50"), (good, query),
                            (good, query))]
    assert [a.status_code for a in answers] == [401, 401, 200, 401]
    assert answers[0].json() == {"message": "The consumer isn't authorized to access %resources.",
                                 "parameters": {"resources": "Magento_Sales::actions_view"}}
    assert store.auth_failures == ["The signature is invalid. Verify and try again."] * 2 + [
        "The nonce is already being used by the consumer. Verify the nonce and try again."]


def test_a_bearer_token_works_only_where_the_store_allows_it():
    with MagentoStandIn(bearer_allowed=False) as strict:
        refused = get(strict, "orders", {"searchCriteria": ""}, bearer(strict))
        assert refused.status_code == 401
        assert "standalone bearer" in strict.auth_failures[0]
    with MagentoStandIn(bearer_allowed=True) as relaxed:
        assert get(relaxed, "orders", {"searchCriteria": ""}, bearer(relaxed)).status_code == 200
        assert get(relaxed, "orders", {"searchCriteria": ""}, {"Authorization": "Bearer nope"}).status_code == 401


# ---- search criteria and paging ---------------------------------------------------------------------
def criteria(*groups: list[tuple[str, Any, str]], **extra: Any) -> dict[str, str]:
    params = {f"searchCriteria[filter_groups][{g}][filters][{f}][{key}]": str(value)
              for g, group in enumerate(groups) for f, flt in enumerate(group)
              for key, value in zip(("field", "value", "condition_type"), flt)}
    return {**params, **{f"searchCriteria[{k}]": str(v) for k, v in extra.items()}}


def test_filters_in_a_group_are_ored_and_groups_are_anded(store):
    store.add_order(1, "processing", updated_at="2026-11-27 10:00:00")
    store.add_order(2, "new", updated_at="2026-11-27 11:00:00")
    store.add_order(3, "canceled", updated_at="2026-11-27 12:00:00")
    found = get(store, "orders", criteria([("state", "processing", "eq"), ("state", "canceled", "eq")],
                                          [("updated_at", "2026-11-27 11:00:00", "gteq")])).json()
    assert [o["entity_id"] for o in found["items"]] == [3] and found["total_count"] == 1
    found = get(store, "orders", criteria([("entity_id", "1,2", "in")])).json()
    assert sorted(o["entity_id"] for o in found["items"]) == [1, 2]


def test_a_page_past_the_end_answers_the_last_page_again(store):
    for entity_id in range(1, 6):
        store.add_order(entity_id)
    pages = [get(store, "orders", criteria(pageSize=2, currentPage=page, **{
        "sortOrders][0][field": "entity_id"})).json() for page in (1, 3, 4)]
    assert [[o["entity_id"] for o in page["items"]] for page in pages] == [[1, 2], [5], [5]]
    assert {page["total_count"] for page in pages} == {5}


def test_errors_have_magentos_shape(store):
    assert get(store, "orders").json() == {"message": "%fieldName is a required field.",
                                           "parameters": {"fieldName": "searchCriteria"}}
    missing = get(store, "orders/999")
    assert missing.status_code == 404 and "doesn't exist" in missing.json()["message"]
    store.fail_next(1, status=429, retry_after=2, path_regex=r"/orders$")
    throttled = get(store, "orders", {"searchCriteria": ""})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert requests.get(store.rest_url("orders", store="nope"), headers=bearer(store), timeout=5).status_code == 400


# ---- shipments and source items -------------------------------------------------------------------
def test_a_shipment_with_tracks_ships_open_items_and_completes_the_order(store):
    order = store.add_order(7, items=[{"sku": "SKU-1", "qty": 2}, {"sku": "SKU-2", "qty": 1}])
    first, second = (item["item_id"] for item in order["items"])
    post = lambda path, body: requests.post(store.rest_url(path), json=body, headers=bearer(store),  # noqa: E731
                                            timeout=5)
    partial = post("order/7/ship", {"items": [{"order_item_id": first, "qty": 1}], "notify": True,
                                    "tracks": [{"track_number": "1Z1", "title": "UPS", "carrier_code": "ups"}]})
    assert partial.status_code == 200 and store.order(7)["state"] == "processing"
    too_many = post("order/7/ship", {"items": [{"order_item_id": first, "qty": 2}]})
    assert too_many.status_code == 400 and too_many.json()["message"].startswith(
        "Shipment Document Validation Error(s):")
    assert post("order/7/ship", {"items": [{"order_item_id": first, "qty": 1},
                                           {"order_item_id": second, "qty": 1}]}).status_code == 200
    assert store.order(7)["state"] == "complete"
    shipments = get(store, "shipments", criteria([("order_id", 7, "eq")])).json()["items"]
    assert [[t["track_number"] for t in s["tracks"]] for s in shipments] == [["1Z1"], []]
    assert [e["tracks"] for e in store.emails] == [["1Z1"]]


def test_source_items_are_saved_in_bulk_and_an_unknown_source_refuses_the_call(store):
    save = lambda items: requests.post(store.rest_url("inventory/source-items"), json={"sourceItems": items},  # noqa
                                       headers=bearer(store), timeout=5)
    assert save([{"sku": "A", "source_code": "default", "quantity": 4, "status": 1}]).json() == []
    refused = save([{"sku": "A", "source_code": "default", "quantity": 5, "status": 1},
                    {"sku": "B", "source_code": "warehouse-9", "quantity": 1, "status": 1}])
    assert refused.status_code == 400 and refused.json()["message"] == "Validation Failed"
    assert store.source_item("A")["quantity"] == 4
