"""Webhook secrets are strong and distinct (issue 22, item 4): the web tier refuses to start otherwise.

INFOPLUS_WEBHOOK_SECRET=whsec_ is an empty key (anyone could sign Infoplus pushes and zero every SKU); a short
secret is guessable; two connections sharing one let a merchant who knows its own secret post orders to another's
URL. BigCommerce signs with the app's client secret, the same for every store of one app, so its deliveries are
told apart by the signed `producer`, which must be the connection's own store.
"""
from __future__ import annotations

import base64
import json

import pytest

from config.connections import RegistryError
from sandbox.sample import bigcommerce_headers
from tests.support.cart_orders import BC_CLIENT_SECRET, BC_ID, bc  # noqa: F401


def whsec(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


@pytest.mark.parametrize("secret", ["whsec_", whsec(b"short-key"), whsec(b" " * 24)])
def test_a_weak_infoplus_webhook_secret_refuses_to_start(world, secret):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = secret
    with pytest.raises(SystemExit, match="INFOPLUS_WEBHOOK_SECRET.*16 bytes"):
        world.web_url


@pytest.mark.parametrize("secret", ["short-secret", "x" * 15])
def test_a_short_connection_webhook_secret_refuses_to_start(world, secret):
    world.connections = [world.shopify_connection(webhook_secret=secret)]
    world.write_connections()
    with pytest.raises(RegistryError, match=r"connection 101 \(Acme Shopify\): field 'webhook_secret': .*16 bytes"):
        world.web_url


def test_two_connections_sharing_a_webhook_secret_refuse_to_start(world):
    world.connections = [world.shopify_connection(),
                         world.shopify_connection(id=102, name="Beta Shopify", order_source_id=56)]
    world.write_connections()
    with pytest.raises(RegistryError, match=r"connections 101 and 102 share one webhook_secret"):
        world.web_url


def test_a_bigcommerce_delivery_from_another_store_is_refused(world, bc):
    other = {"id": 104, "name": "Other BigCommerce", "platform": "bigcommerce", "store_hash": "zzz999",
             "api_base_url": bc.api_base_url, "lob_id": 10000, "order_source_id": 58, "warehouse_id": 1000,
             "default_carrier_id": 1, "webhook_secret": BC_CLIENT_SECRET, "access_token": "bc_other"}
    world.connections.append(other)  # one app's client secret, shared by the stores that installed it
    world.write_connections()
    body = json.dumps({"scope": "store/order/created", "store_id": "1", "data": {"type": "order", "id": 7},
                       "hash": "abc", "created_at": 1700000000, "producer": f"stores/{bc.store_hash}"}).encode()

    wrong_store = world.post("/webhooks/carts/104", body, bigcommerce_headers(body, BC_CLIENT_SECRET))
    right_store = world.post(f"/webhooks/carts/{BC_ID}", body, bigcommerce_headers(body, BC_CLIENT_SECRET))

    assert wrong_store.status_code == 401 and "producer" in wrong_store.json()["error"], wrong_store.text
    assert right_store.status_code == 202, right_store.text
