"""Realistic cart and Infoplus deliveries, signed exactly as each sender signs them.

Library::

    order = shopify_order(order_id=450789469, skus=["SKU-1", "SKU-2"])
    body = json.dumps(order).encode()
    headers = shopify_headers(body, secret="S")

    body = json.dumps(woocommerce_order(order_id=727)).encode()
    headers = woocommerce_headers(body, secret="S", topic="order.updated")

    body = json.dumps(bigcommerce_payload(250, scope="store/order/created")).encode()
    headers = bigcommerce_headers(body, client_secret="S")      # Standard Webhooks

    headers = infoplus_push_headers(body, whsec_secret="whsec_...")  # Standard Webhooks

CLI (posts one delivery and prints the answer)::

    python -m sandbox.sample --url http://127.0.0.1:8000/webhooks/carts/101 --secret S [--order-id N]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import random
import secrets
import sys
import time
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import requests

from . import woocommerce

DEFAULT_SKUS = ("SKU-1", "SKU-2")
SHOP_DOMAIN = "sandbox-shop.myshopify.com"
API_VERSION = "2026-01"
_SHOP_TZ = timezone(timedelta(hours=-5))  # shops report local times with their offset


def sign(body: bytes, secret: str) -> str:
    """`X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the raw body, keyed by the secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _stable_id(text: str, base: int) -> int:
    """Ids derived from the SKU, so the same SKU always has the same product and variant."""
    return base + zlib.crc32(text.encode())


def _address(first: str, last: str, company: str | None) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "name": f"{first} {last}",
            "company": company, "address1": "92 Chestnut Street", "address2": "Suite 4",
            "city": "Louisville", "province": "Kentucky", "province_code": "KY", "zip": "40202",
            "country": "United States", "country_code": "US", "phone": "+1 555-625-1199"}


def _line_item(order_id: int, index: int, sku: str, quantity: int, price: str) -> dict[str, Any]:
    line_id = order_id * 10 + index + 1
    return {"id": line_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
            "product_id": _stable_id(sku, 7_000_000_000_000),
            "variant_id": _stable_id(sku, 40_000_000_000_000), "sku": sku, "quantity": quantity,
            "current_quantity": quantity, "fulfillable_quantity": quantity, "price": price,
            "name": f"Sample item {sku}", "title": f"Sample item {sku}", "variant_title": None,
            "requires_shipping": True, "fulfillment_status": None, "grams": 250, "taxable": True,
            "total_discount": "0.00"}


def shopify_order(order_id: int | None = None, skus: Sequence[str] = DEFAULT_SKUS,
                  quantity: int = 1, price: str = "19.99", order_number: int | None = None,
                  company: str | None = None, email: str = "jane.doe@example.com",
                  financial_status: str = "paid") -> dict[str, Any]:
    """A Shopify REST order as an `orders/*` webhook delivers it (cart-apis.md §1.1).

    `company` is None by default, as on most real consumer orders (Infoplus needs *Company, so
    the product must fill it from the name).
    """
    order_id = order_id or random.randint(5_000_000_000_000, 6_999_999_999_999)
    number = order_number or 1000 + order_id % 9000
    lines = [_line_item(order_id, i, sku, quantity, price) for i, sku in enumerate(skus)]
    subtotal = f"{sum(float(price) * quantity for _ in lines):.2f}"
    stamp = datetime.now(_SHOP_TZ).isoformat(timespec="seconds")
    customer = {"id": order_id + 1, "email": email, "first_name": "Jane", "last_name": "Doe"}
    return {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}", "order_number": number, "number": number - 1000,
        "email": email, "contact_email": email, "phone": None,
        "created_at": stamp, "updated_at": stamp, "processed_at": stamp,
        "cancelled_at": None, "cancel_reason": None, "closed_at": None,
        "financial_status": financial_status, "fulfillment_status": None, "confirmed": True,
        "test": False, "currency": "USD", "presentment_currency": "USD",
        "subtotal_price": subtotal, "total_tax": "0.00", "total_discounts": "0.00",
        "total_price": subtotal, "note": None, "tags": "",
        "line_items": lines,
        "billing_address": _address("Jane", "Doe", company),
        "shipping_address": _address("Jane", "Doe", company),
        "shipping_lines": [{"code": "Standard", "title": "Standard", "price": "0.00"}],
        "customer": customer,
    }


def shopify_headers(body: bytes, secret: str, topic: str = "orders/create",
                    webhook_id: str | None = None, shop_domain: str = SHOP_DOMAIN,
                    api_version: str = API_VERSION, event_id: str | None = None,
                    triggered_at: str | None = None) -> dict[str, str]:
    """The headers Shopify sends with a delivery of `body` (signature included)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at or datetime.now(timezone.utc).isoformat(),
    }


# ---- WooCommerce -------------------------------------------------------------------------------
WOO_SOURCE = "https://shop.example/"
WOO_USER_AGENT = "WooCommerce/9.4.0 Hookshot (WordPress/6.7.1)"


def woocommerce_order(order_id: int | None = None, skus: Sequence[str] = DEFAULT_SKUS,
                      status: str = "processing", quantity: int = 1, price: str = "19.99",
                      **fields: Any) -> dict[str, Any]:
    """A WooCommerce v3 order as its `order.*` webhooks deliver it: the same JSON as the
    stand-in's `GET orders/{id}` (`sandbox.woocommerce.order_json`). `fields` override any
    top-level field (`billing`, `shipping`, `date_modified_gmt`, `line_items`, ...)."""
    order_id = order_id or random.randint(100, 99_999)
    lines = [{"sku": sku, "quantity": quantity, "price": price} for sku in skus]
    return woocommerce.order_json(order_id, status, fields.pop("line_items", lines), **fields)


def woocommerce_headers(body: bytes, secret: str, topic: str = "order.created",
                        source: str = WOO_SOURCE, webhook_id: int = 1,
                        delivery_id: str | None = None) -> dict[str, str]:
    """The headers WooCommerce sends with a delivery (signature: base64 HMAC-SHA256 of the raw
    body, keyed by the webhook secret). The delivery id is new per attempt, not an event id."""
    resource, _, event = topic.partition(".")
    return {"Content-Type": "application/json", "User-Agent": WOO_USER_AGENT,
            "X-WC-Webhook-Source": source, "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": sign(body, secret), "X-WC-Webhook-ID": str(webhook_id),
            "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex}


def woocommerce_ping_body(webhook_id: int = 1) -> bytes:
    """The body WooCommerce POSTs when a webhook is saved: unsigned, no X-WC headers."""
    return f"webhook_id={webhook_id}".encode()


def woocommerce_ping_headers() -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": WOO_USER_AGENT}


# ---- BigCommerce and Infoplus push (Standard Webhooks) -----------------------------------------
def bigcommerce_payload(order_id: int, scope: str = "store/order/created",
                        store_hash: str = "abc123", previous_status_id: int = 0,
                        new_status_id: int = 11, created_at: int | None = None,
                        store_id: str = "1025646", hash_value: str | None = None) -> dict[str, Any]:
    """BigCommerce's thin order payload: an id to fetch, not the order. `hash` (unkeyed SHA-1,
    the dedupe key — not a signature) is unique per call unless `hash_value` is given; a
    `store/order/statusUpdated` payload also carries `data.status`."""
    created_at = created_at if created_at is not None else int(time.time())
    data: dict[str, Any] = {"type": "order", "id": order_id}
    if scope == "store/order/statusUpdated":
        data["status"] = {"previous_status_id": previous_status_id,
                          "new_status_id": new_status_id}
    digest = hash_value or hashlib.sha1(f"{scope}|{order_id}|{created_at}|{uuid.uuid4()}"
                                        .encode()).hexdigest()
    return {"scope": scope, "store_id": store_id, "data": data, "hash": digest,
            "created_at": created_at, "producer": f"stores/{store_hash}"}


def standard_webhooks_headers(body: bytes, key: bytes, msg_id: str | None = None,
                              timestamp: int | None = None) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`
    (`v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}." + body)>`)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp), "webhook-signature": f"v1,{mac}"}


def bigcommerce_headers(body: bytes, client_secret: str, msg_id: str | None = None,
                        timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers keyed by the client secret's own bytes (DESIGN.md: BigCommerce
    base64-encodes the secret before a Standard Webhooks library decodes it back)."""
    return standard_webhooks_headers(body, client_secret.encode(), msg_id, timestamp)


def infoplus_push_headers(body: bytes, whsec_secret: str, msg_id: str | None = None,
                          timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers for the Infoplus push endpoints: the secret is `whsec_` +
    base64, and the HMAC key is the decoded bytes."""
    key = base64.b64decode(whsec_secret.removeprefix("whsec_"))
    return standard_webhooks_headers(body, key, msg_id, timestamp)


def new_whsec_secret() -> str:
    """A fresh Standard Webhooks secret (`whsec_` + base64 of 24 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def post_order(url: str, secret: str, order: dict[str, Any] | None = None,
               topic: str = "orders/create", webhook_id: str | None = None,
               timeout: float = 10.0) -> requests.Response:
    """POST one signed delivery of `order` (a fresh sample when None) to `url`."""
    body = json.dumps(order or shopify_order()).encode()
    headers = shopify_headers(body, secret, topic=topic, webhook_id=webhook_id)
    return requests.post(url, data=body, headers=headers, timeout=timeout)


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.sample",
                                     description="Send a signed Shopify orders/create delivery.")
    parser.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8000/webhooks/carts/101")
    parser.add_argument("--secret", required=True, help="the connection's webhook_secret")
    parser.add_argument("--order-id", type=int, help="Shopify order id (random when omitted)")
    parser.add_argument("--sku", action="append", help="line item SKU (repeatable)")
    parser.add_argument("--topic", default="orders/create")
    parser.add_argument("--webhook-id", help="reuse a delivery id to test duplicate handling")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    order = shopify_order(order_id=args.order_id, skus=args.sku or DEFAULT_SKUS)
    try:
        answer = post_order(args.url, args.secret, order, args.topic, args.webhook_id)
    except requests.RequestException as err:
        print(f"request failed: {err}", file=sys.stderr)
        return 2
    print(f"order {order['id']} ({order['name']}) -> HTTP {answer.status_code}")
    print(answer.text)
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main())
