"""Reading orders from the cart APIs over real HTTP (stand-ins, no broker): WooCommerce's modified-since listing
used by reconciliation, and BigCommerce's order + products + shipping addresses fetched by the orders consumer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from carts.bigcommerce.orders import BigCommerceOrders
from carts.woocommerce.api import WooCommerceAPI
from outbound.errors import Retryable
from sandbox.bigcommerce import BigCommerceStandIn
from sandbox.woocommerce import WooCommerceStandIn, wc_date
from schemas.connection import Connection

TIMEOUT = (3.05, 10.0)
NOW = datetime.now(timezone.utc)


def woo_connection(store: WooCommerceStandIn) -> Connection:
    return Connection(id=202, name="Woo", platform="woocommerce", lob_id=1, order_source_id=1, warehouse_id=1,
                      default_carrier_id=1, webhook_secret="s", store_url=store.store_url,
                      consumer_key=store.consumer_key, consumer_secret=store.consumer_secret)


def bc_connection(store: BigCommerceStandIn) -> Connection:
    return Connection(id=303, name="BC", platform="bigcommerce", lob_id=1, order_source_id=1, warehouse_id=1,
                      default_carrier_id=1, webhook_secret="s", store_hash=store.store_hash,
                      api_base_url=store.api_base_url, access_token=store.access_token)


def test_woocommerce_listing_pages_through_every_order_modified_after_the_cursor():
    with WooCommerceStandIn() as store:
        for order_id in range(1, 131):  # more than one page of 100
            store.add_order(order_id=order_id, date_modified=wc_date(NOW - timedelta(minutes=order_id % 3)))
        store.add_order(order_id=500, date_modified=wc_date(NOW - timedelta(hours=2)))  # before the cursor

        listed = list(WooCommerceAPI(woo_connection(store), timeout=TIMEOUT)
                      .orders_modified_after(NOW - timedelta(hours=1)))

        assert sorted(order["id"] for order in listed) == list(range(1, 131))
        assert store.count("GET", r"/orders$") == 2
        assert all(call.headers.get("Authorization", "").startswith("Basic ") for call in store.calls)


def test_woocommerce_listing_raises_retryable_when_the_store_is_unavailable():
    with WooCommerceStandIn() as store:
        store.fail_next(1, status=503, retry_after=7)
        with pytest.raises(Retryable) as failed:
            list(WooCommerceAPI(woo_connection(store), timeout=TIMEOUT).orders_modified_after(NOW))
        assert failed.value.retry_after == 7


def test_bigcommerce_fetch_reads_the_order_its_products_and_its_ship_to():
    with BigCommerceStandIn() as store:
        store.add_order(order_id=250, products=[{"sku": "A", "quantity": 2, "price": "3.00"}])

        order = BigCommerceOrders(bc_connection(store), timeout=TIMEOUT).fetch_order({"order_id": "250"})

        assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [("A", 2, 3.0)]
        assert order.ship_to.city == "Austin" and order.paid
        assert all(call.headers.get("X-Auth-Token") == store.access_token for call in store.calls)


def test_bigcommerce_fetch_turns_429_into_retryable_with_the_reset_time():
    with BigCommerceStandIn() as store:
        store.add_order(order_id=251)
        store.rate_limit_next(1, reset_ms=2500)
        with pytest.raises(Retryable) as throttled:
            BigCommerceOrders(bc_connection(store), timeout=TIMEOUT).fetch_order({"order_id": "251"})
        assert throttled.value.retry_after == 2.5


def test_bigcommerce_fetch_of_an_order_the_store_lacks_is_none():
    with BigCommerceStandIn() as store:
        assert BigCommerceOrders(bc_connection(store), timeout=TIMEOUT).fetch_order({"order_id": "9"}) is None
