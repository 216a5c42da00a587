"""The Shopify stand-in pages order connections as the Admin GraphQL API does (cursor paging, 250 at most)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests

from sandbox import ShopifyStandIn

TOKEN = {"X-Shopify-Access-Token": "shpat_test"}

FULFILLMENT_ORDERS = """query Page($id: ID!, $first: Int, $after: String) { order(id: $id) {
  fulfillmentOrders(first: $first, after: $after) { pageInfo { hasNextPage endCursor }
    nodes { id lineItems(first: 2) { pageInfo { hasNextPage } nodes { lineItem { sku } } } } }
  fulfillments(first: 1) { id } } }"""

IDS_ONLY = """query Ids($id: ID!, $first: Int, $after: String) { order(id: $id) {
  fulfillmentOrders(first: $first, after: $after) { nodes { id } } } }"""

FULFIL = """mutation Fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id } userErrors { field message } } }"""


@pytest.fixture
def shopify() -> Iterator[ShopifyStandIn]:
    with ShopifyStandIn() as standin:
        yield standin


def graphql(shopify: ShopifyStandIn, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    url = shopify.url("/admin/api/2026-10/graphql.json")
    return requests.post(url, json={"query": query, "variables": variables}, headers=TOKEN, timeout=5).json()


def test_fulfillment_orders_page_with_cursors_until_the_last(shopify):
    shopify.add_order(1, [{"sku": f"S{n}", "quantity": 1, "fulfillment_order": n} for n in range(5)])
    seen, after, pages = [], None, 0
    while True:
        answer = graphql(shopify, FULFILLMENT_ORDERS, {"id": "gid://shopify/Order/1", "first": 2, "after": after})
        connection = answer["data"]["order"]["fulfillmentOrders"]
        seen += [fo["lineItems"]["nodes"][0]["lineItem"]["sku"] for fo in connection["nodes"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["S0", "S1", "S2", "S3", "S4"] and pages == 3


def test_page_sizes_and_cursors_are_checked(shopify):
    shopify.add_order(2, [{"sku": "A", "quantity": 1}])
    too_big = graphql(shopify, IDS_ONLY, {"id": "gid://shopify/Order/2", "first": 251})
    assert too_big["errors"][0]["message"] == "The maximum number of records you can request is 250."
    missing = graphql(shopify, IDS_ONLY, {"id": "gid://shopify/Order/2"})
    assert "first or last" in missing["errors"][0]["message"]
    bogus = graphql(shopify, IDS_ONLY, {"id": "gid://shopify/Order/2", "first": 1, "after": "nope"})
    assert bogus["data"]["order"] is None and "cursor" in bogus["errors"][0]["message"]


def test_fulfillments_is_a_list_that_first_truncates(shopify):
    shopify.add_order(3, [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}])
    shopify.add_fulfillment(3, {"A": 1}, "1ZA")
    shopify.add_fulfillment(3, {"B": 1}, "1ZB")
    order = graphql(shopify, FULFILLMENT_ORDERS, {"id": "gid://shopify/Order/3", "first": 1})["data"]["order"]
    assert len(order["fulfillments"]) == 1 and isinstance(order["fulfillments"], list)
    assert order["fulfillmentOrders"]["nodes"][0]["lineItems"]["pageInfo"]["hasNextPage"] is False


def test_one_fulfillment_cannot_span_two_locations(shopify):
    stored = shopify.add_order(4, [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1, "location_id": 2}])
    groups = [{"fulfillmentOrderId": fo["id"]} for fo in stored["fulfillmentOrders"]]
    answer = graphql(shopify, FULFIL, {"fulfillment": {"lineItemsByFulfillmentOrder": groups}})
    assert "same location" in answer["data"]["fulfillmentCreate"]["userErrors"][0]["message"]
    assert shopify.fulfillments(4) == []
