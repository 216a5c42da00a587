"""Magento entries of the connection registry: no webhook secret, Bearer or all four OAuth credentials, the store
view code and the MSI source."""
from __future__ import annotations

import pytest
import yaml

from config.connections import RegistryError, parse_connections

MAGENTO = {"id": 404, "name": "Acme Magento", "platform": "magento", "store_url": "https://shop.example.com/",
           "lob_id": 10000, "order_source_id": 58, "warehouse_id": 1000, "default_carrier_id": 1,
           "access_token": "${MG_TOKEN}", "sync_orders": True}
ENV = {"MG_TOKEN": "tok", "MG_SECRET": "cs", "MG_TOKEN_SECRET": "ts"}


def load(**fields):
    [connection] = parse_connections(yaml.safe_dump({"connections": [{**MAGENTO, **fields}]}), "c.yaml",
                                     ENV).values()
    return connection


def test_a_bearer_connection_needs_no_webhook_secret_and_has_the_defaults():
    connection = load()
    assert (connection.store_url, connection.store_code, connection.source_code) == (
        "https://shop.example.com", None, "default")
    assert connection.webhook_secret == "" and connection.consumer_key is None


def test_oauth_needs_all_four_credentials_and_never_prints_them():
    connection = load(consumer_key="ck", consumer_secret="${MG_SECRET}", access_token_secret="${MG_TOKEN_SECRET}",
                      store_code="us_en", source_code="east")
    assert (connection.access_token_secret, connection.store_code, connection.source_code) == ("ts", "us_en", "east")
    assert "ts" not in repr(connection).replace("Acme", "") and "cs" not in repr(connection)
    with pytest.raises(RegistryError, match="access_token_secret"):
        load(consumer_key="ck", consumer_secret="cs")


def test_a_store_view_code_is_checked_because_it_goes_into_the_url():
    with pytest.raises(RegistryError, match="store_code"):
        load(store_code="us/../admin")


def test_the_other_platforms_still_need_their_webhook_secret():
    shopify = {**MAGENTO, "platform": "shopify", "id": 101}
    with pytest.raises(RegistryError, match="webhook_secret"):
        parse_connections(yaml.safe_dump({"connections": [shopify]}), "c.yaml", ENV)
