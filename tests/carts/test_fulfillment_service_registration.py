"""Shopify "Fulfilled by Infoplus", step one: the connection says so, and a command registers the service
(fulfillmentServiceCreate against the Shopify stand-in), printing the location id; re-running changes nothing."""
from __future__ import annotations

import pytest
import yaml
from marshmallow import ValidationError

from ops.fulfillment_service import main
from schemas.connection import ConnectionSchema

BASE = {"id": 101, "name": "Acme", "platform": "shopify", "store_url": "https://acme.myshopify.com", "lob_id": 1,
        "order_source_id": 1, "warehouse_id": 1, "default_carrier_id": 1, "webhook_secret": "s",
        "access_token": "t"}


def test_fulfillment_service_defaults_to_false_and_is_shopify_only():
    assert ConnectionSchema().load(BASE).fulfillment_service is False
    located = {**BASE, "fulfillment_service": True, "location_id": "gid://shopify/Location/9"}
    assert ConnectionSchema().load(located).fulfillment_service is True
    with pytest.raises(ValidationError, match="location"):
        ConnectionSchema().load({**BASE, "fulfillment_service": True})  # the command prints what to put there
    woo = {**BASE, "platform": "woocommerce", "consumer_key": "k", "consumer_secret": "c", "fulfillment_service": True}
    with pytest.raises(ValidationError, match="fulfillment service"):
        ConnectionSchema().load(woo)


def test_the_command_creates_the_service_once_and_prints_its_location(shopify, tmp_path, monkeypatch, capsys):
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": [{**BASE, "store_url": shopify.base_url,
                                                     "access_token": shopify.access_token}]}))
    monkeypatch.setenv("CONNECTIONS_FILE", str(path))

    assert main(["--connection", "101", "--base-url", "https://cartbridge.example.com/"]) == 0
    first = capsys.readouterr().out
    [service] = shopify.services
    assert service["callbackUrl"] == "https://cartbridge.example.com/webhooks/carts/101"
    assert service["inventoryManagement"] is True and service["trackingSupport"] is True
    assert service["serviceName"] == "Infoplus"
    assert f"location_id: {service['locationId']}" in first and "created" in first

    assert main(["--connection", "101", "--base-url", "https://cartbridge.example.com"]) == 0
    again = capsys.readouterr().out
    assert len(shopify.services) == 1 and shopify.service_writes == 1  # nothing written the second time
    assert "unchanged" in again and f"location_id: {service['locationId']}" in again


def test_a_service_found_with_tracking_off_is_updated_not_duplicated(shopify, tmp_path, monkeypatch, capsys):
    shopify.mutation_fulfillmentServiceCreate({"name": "Infoplus", "callbackUrl": "https://old.example.com/x",
                                              "inventoryManagement": False, "trackingSupport": False})
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": [{**BASE, "store_url": shopify.base_url,
                                                     "access_token": shopify.access_token}]}))
    monkeypatch.setenv("CONNECTIONS_FILE", str(path))

    assert main(["--connection", "101", "--base-url", "https://cartbridge.example.com"]) == 0
    [service] = shopify.services
    assert service["trackingSupport"] and service["inventoryManagement"]
    assert service["callbackUrl"] == "https://cartbridge.example.com/webhooks/carts/101"
    assert "updated" in capsys.readouterr().out


def test_the_command_refuses_an_unknown_connection(tmp_path, monkeypatch):
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": [BASE]}))
    monkeypatch.setenv("CONNECTIONS_FILE", str(path))
    assert main(["--connection", "999", "--base-url", "https://x.example.com"]) == 2
