"""A store's API base is https:// except on a loopback host (issue 22, item 1): credentials never travel in clear."""
from __future__ import annotations

import pytest
import yaml

from config.connections import RegistryError, parse_connections

SHOPIFY = {"id": 101, "name": "Acme", "platform": "shopify", "lob_id": 10000, "order_source_id": 55,
           "warehouse_id": 1000, "default_carrier_id": 1, "webhook_secret": "acme-webhook-secret-0001",
           "access_token": "shpat_x"}
BIGCOMMERCE = {**SHOPIFY, "id": 102, "name": "Bigco", "platform": "bigcommerce", "store_hash": "abc123",
               "webhook_secret": "bigco-client-secret-0001"}


def load(entry: dict):
    return parse_connections(yaml.safe_dump({"connections": [entry]}), "c.yaml", {})


@pytest.mark.parametrize("url", ["http://acme.myshopify.com", "http://10.0.0.5:8080", "ftp://acme.example",
                                 "http://169.254.169.254"])
def test_a_store_url_in_clear_is_refused_naming_connection_and_field(url):
    with pytest.raises(RegistryError, match=r"connection 101 \(Acme\): field 'store_url': .*https"):
        load({**SHOPIFY, "store_url": url})


def test_an_api_base_url_in_clear_is_refused_naming_connection_and_field():
    with pytest.raises(RegistryError, match=r"connection 102 \(Bigco\): field 'api_base_url': .*https"):
        load({**BIGCOMMERCE, "api_base_url": "http://api.bigcommerce.com"})


@pytest.mark.parametrize("url", ["https://acme.myshopify.com", "http://127.0.0.1:8080", "http://127.3.4.5",
                                 "http://localhost:9000"])
def test_https_or_a_loopback_host_is_accepted(url):
    [connection] = load({**SHOPIFY, "store_url": url}).values()
    assert connection.store_url == url
