"""Sample WooCommerce, BigCommerce and Infoplus-push deliveries verify as the receivers would
verify them (reference/cart-apis.md §2.1, §3.1; Standard Webhooks spec)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from sandbox import WooCommerceStandIn
from sandbox.sample import (bigcommerce_headers, bigcommerce_payload, infoplus_push_headers,
                            new_whsec_secret, standard_webhooks_headers, woocommerce_headers,
                            woocommerce_order, woocommerce_ping_body, woocommerce_ping_headers)


def verify_woo(raw: bytes, header: str, secret: str) -> bool:
    mac = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest())
    return hmac.compare_digest(mac, header.encode())


def verify_standard(raw: bytes, headers: dict[str, str], key: bytes) -> bool:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + raw
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", sig)
               for sig in headers["webhook-signature"].split())


def test_woocommerce_order_matches_the_store_shape():
    sample = woocommerce_order(order_id=727, skus=["SKU-1", "SKU-2"], status="processing")
    with WooCommerceStandIn() as woo:
        stored = woo.add_order(727, line_items=[{"sku": s, "quantity": 1, "price": "19.99"}
                                                for s in ("SKU-1", "SKU-2")])
    assert set(sample) == set(stored)
    assert set(sample["billing"]) == set(stored["billing"])
    assert set(sample["line_items"][0]) == set(stored["line_items"][0])
    assert [li["sku"] for li in sample["line_items"]] == ["SKU-1", "SKU-2"]
    assert (sample["id"], sample["status"], sample["number"]) == (727, "processing", "727")
    pending = woocommerce_order(order_id=5, status="pending")
    assert pending["date_paid_gmt"] is None


def test_woocommerce_order_product_ids_agree_with_the_store():
    with WooCommerceStandIn() as woo:
        product = woo.add_product("SKU-1")
    assert woocommerce_order(1, skus=["SKU-1"])["line_items"][0]["product_id"] == product["id"]


def test_woocommerce_headers_sign_the_raw_body():
    body = json.dumps(woocommerce_order(order_id=727)).encode()
    headers = woocommerce_headers(body, "S", topic="order.updated", delivery_id="d-1")
    assert verify_woo(body, headers["X-WC-Webhook-Signature"], "S")
    assert not verify_woo(body + b" ", headers["X-WC-Webhook-Signature"], "S")
    assert (headers["X-WC-Webhook-Topic"], headers["X-WC-Webhook-Resource"],
            headers["X-WC-Webhook-Event"]) == ("order.updated", "order", "updated")
    assert headers["X-WC-Webhook-Source"] == "https://shop.example/"
    assert headers["X-WC-Webhook-Delivery-ID"] == "d-1" and headers["X-WC-Webhook-ID"] == "1"
    assert "Hookshot" in headers["User-Agent"]
    other = woocommerce_headers(body, "S")
    assert other["X-WC-Webhook-Delivery-ID"] != woocommerce_headers(body, "S")[
        "X-WC-Webhook-Delivery-ID"]


def test_woocommerce_ping():
    assert woocommerce_ping_body(42) == b"webhook_id=42"
    assert not any(name.startswith("X-WC") for name in woocommerce_ping_headers())


def test_bigcommerce_payload_is_thin():
    created = bigcommerce_payload(250, created_at=1561479335)
    assert created["scope"] == "store/order/created"
    assert created["data"] == {"type": "order", "id": 250}
    assert created["producer"] == "stores/abc123" and created["created_at"] == 1561479335
    assert len(created["hash"]) == 40 and created["hash"] != bigcommerce_payload(250)["hash"]
    assert bigcommerce_payload(250, hash_value="h")["hash"] == "h"
    cancelled = bigcommerce_payload(250, scope="store/order/statusUpdated", previous_status_id=11,
                                    new_status_id=5)
    assert cancelled["data"]["status"] == {"previous_status_id": 11, "new_status_id": 5}


def test_bigcommerce_headers_are_standard_webhooks_keyed_by_the_secret_bytes():
    body = json.dumps(bigcommerce_payload(250)).encode()
    headers = bigcommerce_headers(body, "client-secret", msg_id="msg_1", timestamp=1700000000)
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == ("msg_1", "1700000000")
    assert headers["webhook-signature"].startswith("v1,")
    assert verify_standard(body, headers, b"client-secret")
    assert not verify_standard(body, headers, b"other")
    assert not verify_standard(body + b" ", headers, b"client-secret")
    fresh = bigcommerce_headers(body, "client-secret")
    assert fresh["webhook-id"] != headers["webhook-id"] and int(fresh["webhook-timestamp"]) > 0


def test_infoplus_push_headers_use_the_decoded_whsec_key():
    secret = new_whsec_secret()
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    body = json.dumps([{"lobId": 10000, "sku": "SKU-1", "orderableQuantity": 3}]).encode()
    headers = infoplus_push_headers(body, secret)
    assert verify_standard(body, headers, key)
    assert not verify_standard(body, headers, secret.encode())
    assert standard_webhooks_headers(body, key, "m", 1) == infoplus_push_headers(body, secret,
                                                                                 "m", 1)
