"""`cartbridge-connect`: a store's webhooks registered and every setting checked against the stand-ins (real HTTP
servers speaking WooCommerce's, BigCommerce's, Magento's and Infoplus's paths, auth and refusals)."""
from __future__ import annotations

import pytest
import yaml

from ops.connect import main
from sandbox.magento import MagentoStandIn

BASE_URL = "https://cartbridge.example.com"
INFOPLUS_KEY = "infoplus-connect-key"
WOO_SECRET = "woo-connect-webhook-secret-1"
BC_SECRET = "bc-connect-client-secret-12"
COMMON = {"lob_id": 10000, "order_source_id": 56, "warehouse_id": 1000, "default_carrier_id": 1,
          "sync_orders": True}


@pytest.fixture
def infoplus_standin():
    from sandbox.infoplus import InfoplusStandIn
    with InfoplusStandIn(api_key=INFOPLUS_KEY) as standin:
        yield standin


@pytest.fixture
def configure(tmp_path, monkeypatch, infoplus_standin):
    """Write one connection and point the command at it (and at the Infoplus stand-in)."""
    def write(**connection) -> None:
        path = tmp_path / "connections.yaml"
        path.write_text(yaml.safe_dump({"connections": [connection]}))
        monkeypatch.setenv("CONNECTIONS_FILE", str(path))
        monkeypatch.setenv("INFOPLUS_BASE_URL", infoplus_standin.base_url)
        monkeypatch.setenv("INFOPLUS_API_KEY", INFOPLUS_KEY)
        monkeypatch.setenv("INFOPLUS_CALLS_PER_SECOND", "100")  # the budget is not what these tests are about
        monkeypatch.delenv("CARTBRIDGE_PUBLIC_URL", raising=False)
    return write


def woo_connection(woo, **fields) -> dict:
    return {"id": 103, "name": "Acme Woo", "platform": "woocommerce", "store_url": woo.store_url,
            "consumer_key": woo.consumer_key, "consumer_secret": woo.consumer_secret, "webhook_secret": WOO_SECRET,
            **COMMON, **fields}


def bc_connection(bigc, **fields) -> dict:
    return {"id": 104, "name": "Acme BC", "platform": "bigcommerce", "store_hash": bigc.store_hash,
            "api_base_url": bigc.api_base_url, "access_token": bigc.access_token, "webhook_secret": BC_SECRET,
            "location_id": "1", **COMMON, "order_source_id": 57, "sync_inventory": True, **fields}


def run(capsys, *args: str) -> tuple[int, str]:
    code = main([*args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -- WooCommerce --------------------------------------------------------------------------------------------------
def test_woocommerce_connect_registers_order_webhooks_once(woo, configure, capsys):
    configure(**woo_connection(woo))
    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 0, out
    hooks = woo.webhooks()
    assert sorted(h["topic"] for h in hooks) == ["order.created", "order.updated"]
    assert {h["delivery_url"] for h in hooks} == {f"{BASE_URL}/webhooks/carts/103"}
    assert {h["secret"] for h in hooks} == {WOO_SECRET} and {h["status"] for h in hooks} == {"active"}
    assert "✓ webhook order.created: created" in out and "✓ Infoplus LOB 10000" in out
    assert WOO_SECRET not in out and woo.consumer_secret not in out

    writes = woo.count("POST") + woo.count("PUT") + woo.count("DELETE")
    code, again = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 0 and ": created" not in again
    assert woo.count("POST") + woo.count("PUT") + woo.count("DELETE") == writes  # re-running changes nothing


def test_woocommerce_subscription_pointing_elsewhere_is_reported_then_fixed(woo, configure, capsys):
    configure(**woo_connection(woo))
    stray = woo.add_webhook("order.created", "https://old-host.example.com/webhooks/carts/103", status="disabled")
    other_app = woo.add_webhook("order.created", "https://erp.example.com/hook", name="Merchant ERP")

    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 1
    assert "✗ webhook order.created: delivers to https://old-host.example.com/webhooks/carts/103" in out
    assert "--fix" in out
    assert [h for h in woo.webhooks() if h["id"] == stray["id"]][0]["status"] == "disabled"  # only reported

    code, out = run(capsys, "103", "--base-url", BASE_URL, "--fix")
    assert code == 0, out
    fixed = [h for h in woo.webhooks() if h["id"] == stray["id"]][0]
    assert fixed["delivery_url"] == f"{BASE_URL}/webhooks/carts/103" and fixed["status"] == "active"
    assert fixed["secret"] == WOO_SECRET
    assert [h for h in woo.webhooks() if h["id"] == other_app["id"]][0] == other_app | {"secret": ""}  # untouched
    assert len([h for h in woo.webhooks() if h["topic"] == "order.created"]) == 2  # none created beside the fix


def test_woocommerce_dry_run_changes_nothing_and_remove_takes_them_away(woo, configure, capsys):
    configure(**woo_connection(woo))
    code, out = run(capsys, "103", "--base-url", BASE_URL, "--dry-run")
    assert code == 0 and "would subscribe" in out and woo.webhooks() == []

    assert run(capsys, "103", "--base-url", BASE_URL)[0] == 0
    code, out = run(capsys, "103", "--base-url", BASE_URL, "--remove")
    assert code == 0 and out.count("deleted") == 2
    assert woo.webhooks() == []


def test_woocommerce_bad_key_is_one_line_with_the_reason(woo, configure, capsys):
    configure(**woo_connection(woo, consumer_secret="cs_wrong_secret_value"))
    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 1
    assert "✗ store reachable: the credentials were refused (401)" in out
    assert "Traceback" not in out and "cs_wrong_secret_value" not in out


def test_an_unreachable_store_is_one_line(configure, capsys):
    configure(**{"id": 103, "name": "Gone", "platform": "woocommerce", "store_url": "http://127.0.0.1:9",
                 "consumer_key": "ck_x", "consumer_secret": "cs_x_hidden", "webhook_secret": WOO_SECRET, **COMMON})
    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 1 and "ConnectionError" in out and "check store_url" in out
    assert "Traceback" not in out and "cs_x_hidden" not in out


def test_shipment_tracking_extension_is_checked_when_the_connection_relies_on_it(woo, configure, capsys):
    configure(**woo_connection(woo, sync_tracking_data=True, woocommerce_shipment_tracking=True))
    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 1 and "✗ Shipment Tracking extension: not installed" in out
    woo.shipment_tracking = True
    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 0 and "✓ Shipment Tracking extension" in out


# -- BigCommerce --------------------------------------------------------------------------------------------------
def test_bigcommerce_connect_registers_hooks_and_checks_the_location(bigc, configure, capsys):
    configure(**bc_connection(bigc))
    code, out = run(capsys, "104", "--base-url", BASE_URL)
    assert code == 0, out
    assert sorted((h["scope"], h["destination"], h["is_active"]) for h in bigc.hooks()) == [
        ("store/order/created", f"{BASE_URL}/webhooks/carts/104", True),
        ("store/order/updated", f"{BASE_URL}/webhooks/carts/104", True)]
    assert "✓ location 1: Default location, enabled" in out
    assert run(capsys, "104", "--base-url", BASE_URL)[0] == 0
    assert len(bigc.hooks()) == 2 and bigc.count("POST", r"v3/hooks") == 2


def test_bigcommerce_hook_elsewhere_is_fixed_and_an_unneeded_one_deleted(bigc, configure, capsys):
    configure(**bc_connection(bigc))
    bigc.add_hook("store/order/created", "https://old.example.com/webhooks/carts/104")
    bigc.add_hook("store/product/updated", f"{BASE_URL}/webhooks/carts/104")
    code, out = run(capsys, "104", "--base-url", BASE_URL)
    assert code == 1 and "delivers to https://old.example.com" in out and "do not need it" in out
    code, out = run(capsys, "104", "--base-url", BASE_URL, "--fix")
    assert code == 0, out
    assert sorted(h["scope"] for h in bigc.hooks()) == ["store/order/created", "store/order/updated"]
    assert {h["destination"] for h in bigc.hooks()} == {f"{BASE_URL}/webhooks/carts/104"}


def test_bigcommerce_missing_location_and_refused_token(bigc, configure, capsys):
    configure(**bc_connection(bigc, location_id="7"))
    code, out = run(capsys, "104", "--base-url", BASE_URL)
    assert code == 1 and "✗ location 7: the store has no such location" in out

    configure(**bc_connection(bigc, access_token="bc_wrong_token_value"))
    code, out = run(capsys, "104", "--base-url", BASE_URL)
    assert code == 1 and "the token was refused (401)" in out and "bc_wrong_token_value" not in out


# -- Magento ------------------------------------------------------------------------------------------------------
def test_magento_needs_no_webhooks_and_its_source_is_checked(configure, capsys):
    with MagentoStandIn(sources=("default", "east")) as magento:
        connection = {"id": 105, "name": "Acme Magento", "platform": "magento", "store_url": magento.store_url,
                      "access_token": magento.access_token, **COMMON, "order_source_id": 58,
                      "sync_inventory": True, "source_code": "east"}
        configure(**connection)
        code, out = run(capsys, "105", "--base-url", BASE_URL)
        assert code == 0, out
        assert "none needed" in out and "✓ source east" in out
        magento.disabled_sources.add("east")
        code, out = run(capsys, "105")
        assert code == 1 and "✗ source east" in out and "disabled" in out


# -- Infoplus and bad input ---------------------------------------------------------------------------------------
def test_a_missing_infoplus_order_source_is_a_cross(woo, configure, infoplus_standin, capsys):
    configure(**woo_connection(woo, order_source_id=999))
    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 1 and "✗ Infoplus order source 999: not found" in out

    infoplus_standin.references["orderSource"]["999"] = {"id": 999, "lobId": 20000, "name": "Other LOB's"}
    code, out = run(capsys, "103", "--base-url", BASE_URL)
    assert code == 1 and "belongs to LOB 20000, not 10000" in out


def test_unknown_connection_and_missing_base_url(woo, configure, capsys):
    configure(**woo_connection(woo))
    code, out = run(capsys, "999")
    assert code == 2 and "no connection '999'" in out
    code, out = run(capsys, "abc")
    assert code == 2
    code, out = run(capsys, "103")
    assert code == 1 and "--base-url" in out and woo.webhooks() == []


# -- Shopify ------------------------------------------------------------------------------------------------------
SHOPIFY_SECRET = "shopify-connect-app-secret-1"


def shopify_connection(shopify, **fields) -> dict:
    return {"id": 101, "name": "Acme Shopify", "platform": "shopify", "store_url": shopify.base_url,
            "access_token": shopify.access_token, "webhook_secret": SHOPIFY_SECRET,
            "location_id": "gid://shopify/Location/1", **COMMON, "order_source_id": 55, **fields}


def test_shopify_connect_subscribes_the_order_topics_with_only_the_fields_cartbridge_reads(shopify, configure, capsys):
    from carts.shopify.onboarding import INCLUDE_FIELDS
    configure(**shopify_connection(shopify, sync_inventory=True))
    code, out = run(capsys, "101", "--base-url", BASE_URL)
    assert code == 0, out
    subscriptions = shopify.webhook_subscriptions
    assert sorted(s["topic"] for s in subscriptions) == ["ORDERS_CANCELLED", "ORDERS_CREATE", "ORDERS_PAID",
                                                        "ORDERS_UPDATED"]
    assert {s["uri"] for s in subscriptions} == {f"{BASE_URL}/webhooks/carts/101"}
    assert all(s["format"] == "JSON" and sorted(s["includeFields"]) == INCLUDE_FIELDS for s in subscriptions)
    assert {"line_items", "shipping_address", "updated_at"} <= set(INCLUDE_FIELDS)
    assert "✓ scope write_inventory" in out and "✓ location gid://shopify/Location/1" in out

    assert run(capsys, "101", "--base-url", BASE_URL)[0] == 0
    assert len(shopify.webhook_subscriptions) == 4  # re-running changes nothing


def test_shopify_stray_subscription_fixed_and_missing_scope_reported(shopify, configure, capsys):
    configure(**shopify_connection(shopify, sync_tracking_data=True))
    stray = shopify.add_webhook_subscription("ORDERS_PAID", "https://old.example.com/webhooks/carts/101",
                                             format="XML")
    shopify.access_scopes.remove("write_fulfillments")
    code, out = run(capsys, "101", "--base-url", BASE_URL)
    assert code == 1
    assert "✗ webhook ORDERS_PAID: delivers to https://old.example.com/webhooks/carts/101 but sends XML" in out
    assert "✗ scope write_fulfillments: not granted; needed for Sync Tracking Data" in out

    shopify.access_scopes.append("write_fulfillments")
    code, out = run(capsys, "101", "--base-url", BASE_URL, "--fix")
    assert code == 0, out
    [paid] = [s for s in shopify.webhook_subscriptions if s["topic"] == "ORDERS_PAID"]
    assert paid["id"] == stray["id"] and paid["uri"] == f"{BASE_URL}/webhooks/carts/101" and paid["format"] == "JSON"


def test_shopify_bad_token_and_deactivated_location(shopify, configure, capsys):
    configure(**shopify_connection(shopify, sync_inventory=True))
    shopify.deactivated_locations.add("gid://shopify/Location/1")
    code, out = run(capsys, "101", "--base-url", BASE_URL)
    assert code == 1 and "✗ location gid://shopify/Location/1" in out and "deactivated" in out

    configure(**shopify_connection(shopify, access_token="shpat_wrong_token_value"))
    code, out = run(capsys, "101", "--base-url", BASE_URL)
    assert code == 1 and "credentials were refused (401)" in out and "shpat_wrong_token_value" not in out


def test_a_fulfillment_service_connection_registers_its_service_too(shopify, configure, capsys):
    service = shopify.mutation_fulfillmentServiceCreate({"name": "Infoplus", "callbackUrl": "https://x.example.com/y",
                                                         "inventoryManagement": True, "trackingSupport": True})
    location = service["fulfillmentService"]["location"]["id"]
    configure(**shopify_connection(shopify, fulfillment_service=True, location_id=location))
    code, out = run(capsys, "101", "--base-url", BASE_URL)
    assert code == 1 and "✗ webhook fulfillment service: delivers to https://x.example.com/y" in out
    code, out = run(capsys, "101", "--base-url", BASE_URL, "--fix")
    assert code == 0, out
    [registered] = shopify.services
    assert registered["callbackUrl"] == f"{BASE_URL}/webhooks/carts/101"
    code, out = run(capsys, "101", "--base-url", BASE_URL, "--remove")
    assert code == 1 and "is not deleted from here" in out
    assert shopify.services and shopify.webhook_subscriptions == []
