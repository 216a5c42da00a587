"""Seeded fuzzing of every webhook endpoint (DESIGN.md "HTTP"): bad input gets a clear answer, never a 500.

Each case starts from a valid payload (sandbox/sample.py, the Infoplus records of test_infoplus_webhooks), mutates it
and SIGNS the result with the endpoint's secret, so it gets past authentication and reaches parsing and validation,
where 500s hide. Two halves per endpoint:
- random cases ("17"): 1-3 structural mutations (drop, null, swap type, empty, long or odd strings, edge numbers,
  NaN/Infinity/huge literals, deep nesting, wrapping, duplicate keys), or damage to the whole body (another top-level
  value, truncation, non-UTF-8 encodings), plus odd topics and headers; every 20th case is the valid payload itself;
- a sweep ("s17"): every field the endpoint's schema reads, set in turn to every edge value of its own family
  (edge ints for an int, odd dates for a date): those pass the type checks and reach post_load and the consumers.
Every answer must be one DESIGN.md documents (a 4xx with a JSON reason, 200 "ignored" for a topic or scope a cart
module does not handle, or 202); every accepted event is read back from Kafka and loaded the way its consumer loads
it, so the web tier never accepts what a consumer would choke on.

Deterministic: a case is drawn from random.Random(f"{seed}:{target}:{case id}") alone. A failure lists the seed, the
cases and their mutations; replay one case with

    CARTBRIDGE_FUZZ_SEED=<seed> CARTBRIDGE_FUZZ_CASE=<target>:<case id> pytest tests/webhooks/test_fuzzed_bodies.py
"""
from __future__ import annotations

import copy
import functools
import json
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
import requests
from marshmallow import Schema, fields

from carts.base import ORDER_EVENT, ORDER_REFERENCE_EVENT
from carts.bigcommerce.orders import _order_id as bigcommerce_order_path_id
from carts.shopify.deliveries import FULFILLMENT_REQUEST_EVENT
from carts.shopify.fulfillment_service import KINDS
from events import topics
from sandbox.sample import (bigcommerce_headers, bigcommerce_payload, infoplus_push_headers, shopify_headers,
                            shopify_order, sign, woocommerce_headers, woocommerce_order)
from schemas.bigcommerce import ORDER_SCOPES, BigCommerceWebhookSchema
from schemas.envelope import Envelope, decode_envelope
from schemas.infoplus import InfoplusItemSchema, InfoplusShipmentSchema, InventoryLevelSchema
from schemas.order import CartOrderSchema, parse_version
from schemas.shopify import FulfillmentOrderNotificationSchema, ShopifyOrderSchema
from schemas.tracking import ShipmentPayloadSchema, order_number
from schemas.woocommerce import WooOrderSchema
from tests.support.cart_orders import BC_CLIENT_SECRET, BC_ID, WOO_ID, WOO_SECRET, bc, woo  # noqa: F401
from tests.support.kafka import read_topic
from tests.support.world import SHOPIFY_SECRET
from tests.webhooks.test_fulfillment_notification import fulfillment_service_connection
from tests.webhooks.test_infoplus_webhooks import ITEM, SECRET as INFOPLUS_SECRET, SHIPMENT

SEED = int(os.environ.get("CARTBRIDGE_FUZZ_SEED", "20261127"))
CASES = int(os.environ.get("CARTBRIDGE_FUZZ_CASES", "400"))  # per endpoint; the whole file stays well under 60 s
ONLY = os.environ.get("CARTBRIDGE_FUZZ_CASE", "")  # "<target>:<case id>" replays one case


# -- values a mutation puts in place -----------------------------------------------------------------------
@dataclass(frozen=True)
class Raw:
    """JSON text spliced in as is: what json.dumps cannot write (huge literals, NaN, 100 000 levels, duplicates)."""

    text: str


def _deep_list(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


def _deep_object(depth: int) -> Raw:
    return Raw('{"a":' * depth + "1" + "}" * depth)


TYPE_SAMPLES: list[Any] = ["text", 0, 7, -1, 1.5, True, False, [], {}, [1, "a"], {"a": 1}, None]
INTS: list[Any] = [0, -1, 1, 2 ** 31, 2 ** 53 + 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, Raw("9" * 5000),
                   Raw("-" + "1" * 4400)]
FLOATS: list[Any] = [-0.0, -7.5, 1.5, 1e-300, 1e300, 1.7976931348623157e308, Raw("1e400"), Raw("-1e400"),
                     Raw("1e-400"), Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1E+2")]
NUMBERS = INTS + FLOATS
NUMERIC_STRINGS = ["0", "-1", "-0", "1e999", "1e-999", "NaN", "Infinity", "1_000", " 42 ", "١٢", "9" * 5000]
DATE_STRINGS = ["2026-11-27", "2026-11-27T10:00:00Z", "2026-11-27T10:00:00.123456+05:30", "2026-02-30T00:00:00",
                "2026-11-27T25:61:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59",
                "0001-01-01T00:00:00", "2026-W48-1", "20261127T100000", "Fri, 27 Nov 2026 10:00:00 +0000",
                "2026-11-27T10:00:00+24:00", "1764237600"]
TEXT_STRINGS = ["", " ", "null", "true", "Yes", "no", "orders/create", "order.updated", "store/order/created",
                "store/order/statusUpdated", "🛒 emoji", "NUL\x00byte", "\ud800", "\udfff lone low",
                "\ud83d\ude00 pair", "e\u0301 combining", "\u202eRTL", "line\nbreak", "\u2028", "Ω≈ç√∫",
                "<script>alert(1)</script>", "'; DROP TABLE orders; --", "../../etc/passwd", "%00", "\\", '"',
                "é" * 300]
STRINGS = NUMERIC_STRINGS + DATE_STRINGS + TEXT_STRINGS


def _near(current: Any) -> list[Any]:
    """Values of the same family as `current` (edge ints for an int, odd dates for a date ...): they pass the
    type checks, so they reach the range checks, post_load and the consumers, where logic bugs hide."""
    if isinstance(current, bool):
        return ["true", "Yes", 0, 1, None]
    if isinstance(current, int):
        return INTS
    if isinstance(current, float):
        return NUMBERS + NUMERIC_STRINGS
    if isinstance(current, str):
        if _looks_like(current, float):
            return NUMERIC_STRINGS
        if _looks_like(current, datetime.fromisoformat):
            return DATE_STRINGS
    return TEXT_STRINGS


def _looks_like(text: str, parse: Callable[[str], Any]) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


LONG_SIZES = [256, 10_000, 300_000]


def _long_string(rng: random.Random) -> str:
    return rng.choice(["x", "🛒", "é", "\x00", "ab"]) * rng.choice(LONG_SIZES)


def _deep(rng: random.Random) -> Raw:
    depth = rng.choice([8, 40, 64, 65, 200, 900, 960, 990, 1000, 5000, 100_000])
    return _deep_list(depth) if rng.random() < 0.5 else _deep_object(depth)


def _other_type(rng: random.Random, current: Any) -> Any:
    return rng.choice([sample for sample in TYPE_SAMPLES if type(sample) is not type(current)])


def _render(value: Any, rng: random.Random) -> str:
    """JSON text of `value` with every Raw spliced in; sometimes with raw UTF-8 instead of \\u escapes."""
    raws: list[str] = []

    def marked(node: Any) -> Any:
        if isinstance(node, Raw):
            raws.append(node.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(node, dict):
            return {key: marked(item) for key, item in node.items()}
        if isinstance(node, list):
            return [marked(item) for item in node]
        return node

    text = json.dumps(marked(value), ensure_ascii=rng.random() < 0.5)
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{index}@@"', raw, 1)
    return text


# -- where a mutation lands --------------------------------------------------------------------------------
Path = tuple  # keys and indexes from the top


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _label(path: Path) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path) or "<top>"


def declared_keys(schema: Schema) -> set[str]:
    """Every key the schema reads, nested ones too: mutations favour them, since that is where parsing happens."""
    keys: set[str] = set()
    for name, declared in schema.fields.items():
        keys.add(declared.data_key or name)
        inner = declared.inner if isinstance(declared, fields.List) else declared
        if isinstance(inner, fields.Nested):
            keys |= declared_keys(inner.schema)
    return keys


def _pick_path(payload: Any, rng: random.Random, keys: set[str]) -> Path | None:
    candidates = _paths(payload)[1:]  # not the top: whole_body() replaces that
    if not candidates:
        return None
    favoured = [path for path in candidates if path[-1] in keys]
    return rng.choice(favoured if favoured and rng.random() < 0.75 else candidates)


def schema_leaves(schema: Schema, value: Any, prefix: Path = (), seen: set | None = None) -> list[Path]:
    """The paths of `value` that `schema` reads as plain values, each schema field once (the first line item's
    `price`, not every line's), following nested schemas and lists of them; a top-level list is many records."""
    seen = set() if seen is None else seen
    if isinstance(value, list):
        return [path for index, item in enumerate(value)
                for path in schema_leaves(schema, item, prefix + (index,), seen)]
    found: list[Path] = []
    for name, declared in schema.fields.items():
        key = declared.data_key or name
        if not isinstance(value, dict) or key not in value or (type(schema), name) in seen:
            continue
        seen.add((type(schema), name))
        inner = declared.inner if isinstance(declared, fields.List) else declared
        if isinstance(inner, fields.Nested):
            found += schema_leaves(inner.schema, value[key], prefix + (key,), seen)
        else:
            found.append(prefix + (key,))
    return found


SWEEP_IDS = 100_000  # sweep payloads get ids from here on; random case N uses N
SWEEP_TEXT: list[Any] = ["", "NUL\x00", "\ud800", "🛒", "x" * 10_000]


@functools.cache
def sweep_plan(target: "Target") -> list[tuple[Path, Any]]:
    """Every field the endpoint's schema reads x every edge value of its family: the systematic half of the fuzz."""
    payload = target.valid(random.Random(f"{SEED}:{target.name}:sweep"), 0)
    plan = []
    for path in schema_leaves(target.schema, payload):
        family = _near(_at(payload, path))
        plan += [(path, value) for value in (SWEEP_TEXT if family is TEXT_STRINGS else family)]
    return plan


# -- mutations of one value --------------------------------------------------------------------------------
def _replacement(rng: random.Random, current: Any) -> tuple[str, Any]:
    kind = rng.choice(["near"] * 6 + ["null", "type", "type", "empty", "long", "string", "number", "deep", "wrap"])
    if kind == "near":
        return "edge value", rng.choice(_near(current))
    if kind == "null":
        return "null", None
    if kind == "type":
        return "swap type", _other_type(rng, current)
    if kind == "empty":
        return "empty", rng.choice(["", [], {}])
    if kind == "long":
        return "long string", _long_string(rng)
    if kind == "string":
        return "tricky string", rng.choice(STRINGS)
    if kind == "number":
        return "number", rng.choice(NUMBERS)
    if kind == "deep":
        return "deep nesting", _deep(rng)
    return "wrap", [current] if rng.random() < 0.5 else {"value": current}


def _short(value: Any) -> str:
    text = value.text if isinstance(value, Raw) else repr(value)
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} chars)"


def mutate_once(payload: Any, rng: random.Random, keys: set[str]) -> tuple[Any, str]:
    path = _pick_path(payload, rng, keys)
    if path is None:
        return payload, "nothing to mutate"
    parent, step = _at(payload, path[:-1]), path[-1]
    roll = rng.random()
    if roll < 0.15:
        del parent[step]
        return payload, f"drop {_label(path)}"
    if roll < 0.22 and isinstance(parent, dict):
        return _duplicate_key(payload, path, rng)
    what, value = _replacement(rng, parent[step])
    parent[step] = value
    return payload, f"{what} {_label(path)} = {_short(value)}"


def _duplicate_key(payload: Any, path: Path, rng: random.Random) -> tuple[Any, str]:
    """The same key twice in one object; json.loads keeps the last, so the mutated copy goes first or last."""
    parent, key = _at(payload, path[:-1]), path[-1]
    _, other = _replacement(rng, parent[key])
    member = f"{json.dumps(key)}:{_render(other, rng)}"
    text = _render(parent, rng)
    last = rng.random() < 0.5
    spliced = (text[:-1] + ("," if len(parent) else "") + member + "}") if last else \
        ("{" + member + ("," if len(parent) else "") + text[1:])
    replaced = Raw(spliced)
    if path[:-1]:
        _at(payload, path[:-2])[path[-2]] = replaced
    else:
        payload = replaced
    winner = "mutated copy wins" if last else "original wins"
    return payload, f"duplicate key {_label(path)} ({winner}: {_short(other)})"


# -- mutations of the whole body ---------------------------------------------------------------------------
TOP_LEVEL: list[Any] = [None, True, 0, -1, 1.5, "order", "", [], {}, [[]], [None], Raw("NaN")]


def whole_body(payload: Any, rng: random.Random) -> tuple[bytes, str]:
    """Body-level damage: a different top-level value, broken text, a non-UTF-8 encoding."""
    kind = rng.choice(["top", "top", "list", "truncate", "garbage", "bom", "utf16", "utf32", "latin1", "bad-byte",
                       "empty", "form", "two-docs"])
    text = _render(payload, rng)
    if kind == "top":
        value = rng.choice(TOP_LEVEL)
        return _render(value, rng).encode(), f"top-level {_short(value)}"
    if kind == "list":
        return _render([payload] * rng.choice([1, 2, 3]), rng).encode(), "top-level list of the payload"
    if kind == "truncate":
        cut = rng.randrange(len(text)) if text else 0
        return text[:cut].encode("utf-8", "surrogatepass"), f"truncated at {cut}"
    if kind == "garbage":
        return (text + rng.choice([" x", ",", "}", "\x00", " // comment"])).encode("utf-8", "surrogatepass"), \
            "trailing garbage"
    if kind == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass"), "UTF-8 byte order mark"
    if kind == "utf16":
        return text.encode("utf-16", "surrogatepass"), "UTF-16 with BOM"
    if kind == "utf32":
        return text.encode("utf-32-le", "surrogatepass"), "UTF-32 without BOM"
    if kind == "latin1":
        return text.replace('"', '"é', 1).encode("latin-1", "replace"), "latin-1 encoded"
    if kind == "bad-byte":
        data = bytearray(text.encode("utf-8", "surrogatepass"))
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf"])
        return bytes(data), f"invalid UTF-8 byte at {at}"
    if kind == "empty":
        return rng.choice([b"", b" ", b"\n"]), "empty body"
    if kind == "form":
        return b"webhook_id=7", "form-encoded (ping-shaped, but signed)"
    return (text + text).encode("utf-8", "surrogatepass"), "two JSON documents"


@dataclass
class Case:
    target: str
    index: str  # "17": the 17th random case; "s17": the 17th step of the sweep
    body: bytes
    headers: dict[str, str]
    mutations: list[str] = field(default_factory=list)

    def label(self) -> str:
        return f"{self.target}:{self.index} [{'; '.join(self.mutations)}]"

    def replay(self) -> str:
        return f"CARTBRIDGE_FUZZ_SEED={SEED} CARTBRIDGE_FUZZ_CASE={self.target}:{self.index}"


# -- the endpoints -----------------------------------------------------------------------------------------
Signer = Callable[[bytes, random.Random, list[str]], dict[str, str]]
CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/json; charset=latin-1", ""]


def _header_tweaks(headers: dict[str, str], rng: random.Random, notes: list[str], droppable: list[str]) -> None:
    if rng.random() < 0.08:
        content_type = rng.choice(CONTENT_TYPES)
        headers["Content-Type"] = content_type
        notes.append(f"Content-Type {content_type!r}")
    if droppable and rng.random() < 0.05:
        name = rng.choice(droppable)
        headers.pop(name, None)
        notes.append(f"no {name} header")


def _topic(rng: random.Random, notes: list[str], default: str, tried: list[str | None]) -> str | None:
    if rng.random() >= 0.1:
        return default
    topic = rng.choice(tried)
    notes.append(f"topic {topic!r}")
    return topic


def sign_shopify(body: bytes, rng: random.Random, notes: list[str]) -> dict[str, str]:
    topic = _topic(rng, notes, "orders/create",
                   ["orders/paid", "orders/cancelled", "products/update", "", "ORDERS/CREATE", "orders/create ", None])
    headers = shopify_headers(body, SHOPIFY_SECRET, topic=topic or "")
    if topic is None:
        del headers["X-Shopify-Topic"]
    _header_tweaks(headers, rng, notes, ["X-Shopify-Webhook-Id", "X-Shopify-Shop-Domain", "X-Shopify-Event-Id"])
    return headers


def sign_shopify_notification(body: bytes, rng: random.Random, notes: list[str]) -> dict[str, str]:
    """The fulfillment service callback: HMAC-signed like a webhook, no topic (the body names the kind)."""
    headers = {"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sign(body, SHOPIFY_SECRET),
               "X-Shopify-Shop-Domain": "acme.myshopify.com"}
    _header_tweaks(headers, rng, notes, ["X-Shopify-Shop-Domain"])
    return headers


def sign_woocommerce(body: bytes, rng: random.Random, notes: list[str]) -> dict[str, str]:
    topic = _topic(rng, notes, "order.created",
                   ["order.updated", "order.deleted", "product.updated", "action.woocommerce_x", "", None])
    headers = woocommerce_headers(body, WOO_SECRET, topic=topic or "")
    if topic is None:
        del headers["X-WC-Webhook-Topic"]
    _header_tweaks(headers, rng, notes, ["X-WC-Webhook-ID", "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Source"])
    return headers


MESSAGE_IDS = ["msg_1", "", "x" * 2000, "msg_é", "msg with spaces", "msg.1.2"]


def _message_id(rng: random.Random, notes: list[str]) -> str | None:
    if rng.random() >= 0.08:
        return None
    message_id = rng.choice(MESSAGE_IDS) or "0"  # an empty webhook-id is "missing": a 401 by design, not fuzzed
    notes.append(f"webhook-id {_short(message_id)}")
    return message_id


def sign_bigcommerce(body: bytes, rng: random.Random, notes: list[str]) -> dict[str, str]:
    headers = bigcommerce_headers(body, BC_CLIENT_SECRET, msg_id=_message_id(rng, notes))
    _header_tweaks(headers, rng, notes, [])
    return headers


def sign_infoplus(body: bytes, rng: random.Random, notes: list[str]) -> dict[str, str]:
    headers = infoplus_push_headers(body, INFOPLUS_SECRET, msg_id=_message_id(rng, notes))
    _header_tweaks(headers, rng, notes, [])
    return headers


def valid_shopify(rng: random.Random, index: int) -> Any:
    return shopify_order(order_id=700_000 + index, skus=rng.choice([["SKU-1"], ["SKU-1", "SKU-2"]]),
                         financial_status=rng.choice(["paid", "pending", "authorized"]))


def valid_notification(rng: random.Random, index: int) -> Any:
    return {"kind": rng.choice(sorted(KINDS))}


def valid_woocommerce(rng: random.Random, index: int) -> Any:
    return woocommerce_order(order_id=700_000 + index, status=rng.choice(["processing", "pending", "cancelled"]))


def valid_bigcommerce(rng: random.Random, index: int) -> Any:
    return bigcommerce_payload(700_000 + index, scope=rng.choice(sorted(ORDER_SCOPES)))


def _one_or_a_list(record: dict, rng: random.Random, index: int, varied: str) -> Any:
    if rng.random() < 0.6:
        return {**record, varied: f"{record[varied]}-{index}"} if varied == "sku" else dict(record)
    return [{**record, varied: f"{record[varied]}-{index}-{n}"} if varied == "sku" else dict(record)
            for n in range(rng.choice([1, 2, 3]))]


def valid_item(rng: random.Random, index: int) -> Any:
    return _one_or_a_list(ITEM, rng, index, "sku")


def valid_shipment(rng: random.Random, index: int) -> Any:
    return _one_or_a_list({**SHIPMENT, "id": 900_000 + index, "orderNo": float(5000 + index)}, rng, index, "id")


# -- what the consumers read (kept in step with consumers/*.py) --------------------------------------------
def read_like_the_orders_consumer(envelope: Envelope) -> None:
    if envelope.type == ORDER_EVENT:  # consumers/orders.py _read_order, _handle_version, _before_go_live
        order = CartOrderSchema().load(envelope.payload)
        order.version()
        parse_version(order.created_at)
        return
    assert envelope.type == ORDER_REFERENCE_EVENT, envelope.type
    # consumers/orders.py _stale_reference, then carts/bigcommerce/orders.py puts the id in a URL path
    datetime.fromtimestamp(int(envelope.payload.get("created_at") or 0), timezone.utc)
    bigcommerce_order_path_id(envelope.payload)


def read_like_the_orders_consumer_reads_a_notification(envelope: Envelope) -> None:
    # consumers/fulfillment_requests.py: the kind names what to read from Shopify; any other is a dead letter
    assert envelope.type == FULFILLMENT_REQUEST_EVENT, envelope.type
    assert KINDS.get(envelope.payload.get("kind")) is not None, envelope.payload


def read_like_the_inventory_consumer(envelope: Envelope) -> None:
    level = InventoryLevelSchema().load(envelope.payload)  # consumers/inventory.py
    level.version()
    _ = f"{level.lob_id}:{level.sku}".encode()  # the Kafka key of a re-published level


def read_like_the_tracking_consumer(envelope: Envelope) -> None:
    shipment = ShipmentPayloadSchema().load(envelope.payload)  # consumers/tracking.py
    order_number(shipment.order_no)


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    topic: str
    valid: Callable[[random.Random, int], Any]
    sign: Signer
    schema: Schema  # what the endpoint loads: mutations favour the keys it reads
    read_back: Callable[[Envelope], None]
    ignorable: bool  # a cart answers 200 "ignored" for a topic or scope it does not handle


TARGETS = {
    "shopify": Target("shopify", "/webhooks/carts/101", topics.CART_ORDERS, valid_shopify, sign_shopify,
                      ShopifyOrderSchema(), read_like_the_orders_consumer, True),
    "shopify-fulfillment": Target("shopify-fulfillment", "/webhooks/carts/101/fulfillment_order_notification",
                                  topics.CART_ORDERS, valid_notification, sign_shopify_notification,
                                  FulfillmentOrderNotificationSchema(),
                                  read_like_the_orders_consumer_reads_a_notification, True),
    "woocommerce": Target("woocommerce", f"/webhooks/carts/{WOO_ID}", topics.CART_ORDERS, valid_woocommerce,
                          sign_woocommerce, WooOrderSchema(), read_like_the_orders_consumer, True),
    "bigcommerce": Target("bigcommerce", f"/webhooks/carts/{BC_ID}", topics.CART_ORDERS, valid_bigcommerce,
                          sign_bigcommerce, BigCommerceWebhookSchema(), read_like_the_orders_consumer, True),
    "infoplus-inventory": Target("infoplus-inventory", "/webhooks/infoplus/inventory", topics.INFOPLUS_INVENTORY,
                                 valid_item, sign_infoplus, InfoplusItemSchema(), read_like_the_inventory_consumer,
                                 False),
    "infoplus-shipments": Target("infoplus-shipments", "/webhooks/infoplus/shipments", topics.INFOPLUS_SHIPMENTS,
                                 valid_shipment, sign_infoplus, InfoplusShipmentSchema(),
                                 read_like_the_tracking_consumer, False),
}


def make_case(target: Target, case_id: str) -> Case:
    rng = random.Random(f"{SEED}:{target.name}:{case_id}")
    if case_id.startswith("s"):
        return _sweep_case(target, case_id, rng)
    index = int(case_id)
    payload = copy.deepcopy(target.valid(rng, index))
    keys = declared_keys(target.schema)
    mutations: list[str] = []
    if index % 20 == 0:
        body = _render(payload, rng).encode()  # a control: the valid payload itself must be accepted
        mutations.append("none (control)")
    elif rng.random() < 0.15:
        body, note = whole_body(payload, rng)
        mutations.append(note)
    else:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            payload, note = mutate_once(payload, rng, keys)
            mutations.append(note)
        body = _render(payload, rng).encode("utf-8", "surrogatepass")
    headers = target.sign(body, rng, mutations)
    return Case(target.name, case_id, body, headers, mutations)


def _sweep_case(target: Target, case_id: str, rng: random.Random) -> Case:
    step = int(case_id[1:])
    path, value = sweep_plan(target)[step]
    # the same shape as the plan's payload, but its own order id: each accepted event names its case
    payload = target.valid(random.Random(f"{SEED}:{target.name}:sweep"), SWEEP_IDS + step)
    _at(payload, path[:-1])[path[-1]] = value
    body = _render(payload, rng).encode("utf-8", "surrogatepass")
    mutations = [f"edge value {_label(path)} = {_short(value)}"]
    return Case(target.name, case_id, body, target.sign(body, random.Random(0), mutations), mutations)


# -- the checks --------------------------------------------------------------------------------------------
DOCUMENTED = {200, 202, 400, 413, 422}  # signed correctly, so never 401; 404 only for unknown connections


def check_answer(case: Case, target: Target, response: requests.Response) -> str | None:
    """None when the answer is one DESIGN.md documents, else what is wrong with it."""
    status = response.status_code
    if case.mutations == ["none (control)"] and status != 202:
        return f"the valid payload itself was not accepted: {status} {response.text[:300]}"
    if status == 401 and _producer_refused(case, response):
        return None
    if status not in DOCUMENTED or (status == 200 and not target.ignorable):
        return f"status {status}: {response.text[:300]}"
    try:
        answer = response.json()
    except ValueError:
        return f"status {status} without a JSON body: {response.text[:200]!r}"
    if status == 202:
        ids = answer.get("event_ids")
        return None if isinstance(ids, list) and all(isinstance(i, str) for i in ids) else f"202 answer {answer}"
    if status == 200:
        return None if answer.get("ignored") is True and answer.get("reason") else f"200 answer {answer}"
    if not (isinstance(answer.get("error"), str) and answer["error"]):
        return f"{status} without an error message: {answer}"
    if status == 422 and not answer.get("messages"):
        return f"422 without field messages: {answer}"
    return None


def _producer_refused(case: Case, response: requests.Response) -> bool:
    """BigCommerce's signed `producer` names the store: one not the connection's own is refused (401) even when
    signed with the (app-wide) client secret."""
    touched = case.target == "bigcommerce" and any(".producer" in mutation for mutation in case.mutations)
    return touched and "producer" in response.text


def _strict_json(value: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(value, parse_constant=refuse)


def check_accepted(target: Target, records: list, accepted: dict[str, list[Case]]) -> list[str]:
    """Every accepted event, as the broker holds it, is standard JSON the consumer's schemas load."""
    problems = []
    seen = set()
    for record in records:
        seen.add(_event_id(record.value))
        try:
            _strict_json(record.value)
            target.read_back(decode_envelope(record.value))
        except Exception as error:  # noqa: BLE001 — any failure here is what a consumer would hit
            cases = accepted.get(_event_id(record.value), [])
            labels = "; ".join(case.label() for case in cases) or "(unknown case)"
            replays = ", ".join(case.replay() for case in cases)
            problems.append(f"accepted but unreadable by the consumer ({error.__class__.__name__}: "
                            f"{str(error)[:300]}) from {labels} — replay: {replays}")
    missing = set(accepted) - seen
    if missing:
        problems.append(f"{len(missing)} accepted event ids never reached {target.topic}: {sorted(missing)[:5]}")
    return problems


def _event_id(value: bytes) -> str:
    try:
        return json.loads(value)["event_id"]
    except Exception:  # noqa: BLE001
        return ""


def _case_ids(target: Target) -> list[str]:
    if ONLY:
        name, _, case_id = ONLY.partition(":")
        return [case_id] if name == target.name else []
    return [str(index) for index in range(CASES)] + [f"s{step}" for step in range(len(sweep_plan(target)))]


def fuzz(world, target: Target) -> None:
    case_ids = _case_ids(target)
    if not case_ids:
        pytest.skip(f"CARTBRIDGE_FUZZ_CASE={ONLY} replays another target")
    failures: list[str] = []
    accepted: dict[str, list[Case]] = {}
    published = 0
    for case_id in case_ids:
        case = make_case(target, case_id)
        try:
            response = world.post(target.path, case.body, case.headers)
        except requests.RequestException as error:
            failures.append(f"{case.label()}: no answer ({error.__class__.__name__}) — replay: {case.replay()}")
            continue
        problem = check_answer(case, target, response)
        if problem:
            failures.append(f"{case.label()}: {problem} — replay: {case.replay()}")
        elif response.status_code == 202:
            for event_id in response.json()["event_ids"]:
                accepted.setdefault(event_id, []).append(case)
                published += 1
    assert requests.get(world.web_url + "/healthz", timeout=5).status_code == 200, "the web server died"
    records = read_topic(world.bootstrap, world.prefix + target.topic, expect=published) if published else []
    failures += check_accepted(target, records, accepted)
    assert not failures, f"seed {SEED}, {len(failures)} failing case(s):\n" + "\n".join(failures)


def test_shopify_deliveries(world):
    fuzz(world, TARGETS["shopify"])


def test_shopify_fulfillment_service_callbacks(world):
    fulfillment_service_connection(world)
    fuzz(world, TARGETS["shopify-fulfillment"])


def test_woocommerce_deliveries(world, woo):
    fuzz(world, TARGETS["woocommerce"])


def test_bigcommerce_deliveries(world, bc):
    fuzz(world, TARGETS["bigcommerce"])


def test_infoplus_inventory_pushes(world):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = INFOPLUS_SECRET
    fuzz(world, TARGETS["infoplus-inventory"])


def test_infoplus_shipment_pushes(world):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = INFOPLUS_SECRET
    fuzz(world, TARGETS["infoplus-shipments"])
