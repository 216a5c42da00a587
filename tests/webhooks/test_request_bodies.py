"""Bodies no schema gets to see: sizes (413), text that is not strict UTF-8 JSON (400), events too big for Kafka.

Each was a 500, a 401 or an event no consumer could read before webhooks/bodies.py and webhooks/errors.py
handled it; tests/webhooks/test_fuzzed_bodies.py found most of them.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Iterator

import pytest
import requests
from kafka import KafkaAdminClient

from events import topics
from sandbox.sample import shopify_headers, shopify_order
from tests.support.kafka import ROOT, free_port
from tests.support.world import SHOPIFY_SECRET
from tests.webhooks.test_infoplus_webhooks import ITEM, SECRET, signed
from webhooks.bodies import MAX_NESTING

INVENTORY = "/webhooks/infoplus/inventory"


def post_item_text(world, text: str):
    """An Infoplus item push whose JSON text is written by hand (what json.dumps would never write)."""
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET
    body = text.encode()
    return world.post(INVENTORY, body, signed(body))


def with_extra_field(record: dict, raw_value: str) -> str:
    """`record` as JSON text plus a field the schema ignores, holding `raw_value` verbatim."""
    return json.dumps(record)[:-1] + f', "extra": {raw_value}}}'


def nothing_published(world, topic: str = topics.INFOPLUS_INVENTORY) -> bool:
    return world.read(topic, expect=0, timeout=2) == []


# -- not strict JSON: 400 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_numbers_are_not_json(world, literal):
    # Python's json reads these; the event would reach Kafka as `NaN`/`Infinity`, which is not JSON.
    response = post_item_text(world, with_extra_field(ITEM, literal))

    assert response.status_code == 400, response.text
    assert "not JSON" in response.json()["error"]
    assert nothing_published(world)


def test_an_integer_too_long_to_read_is_400_not_500(world):
    response = post_item_text(world, with_extra_field(ITEM, "9" * 5000))  # int() refuses over 4300 digits

    assert response.status_code == 400, response.text


@pytest.mark.parametrize("depth", [MAX_NESTING, 990, 100_000])
def test_nesting_past_the_limit_is_400(world, depth):
    # 990: parsed, then too deep to write back as an envelope (a 500); 100 000: too deep to parse (a 500).
    response = post_item_text(world, with_extra_field(ITEM, "[" * depth + "]" * depth))

    assert response.status_code == 400, response.text
    assert f"nested more than {MAX_NESTING} levels" in response.json()["error"]


def test_nesting_up_to_the_limit_is_accepted(world):
    levels_left = MAX_NESTING - 1  # the record itself is the first level
    response = post_item_text(world, with_extra_field(ITEM, "[" * levels_left + "]" * levels_left))

    assert response.status_code == 202, response.text


def test_an_unpaired_surrogate_escape_is_400_not_500(world):
    # "\ud800" decodes to a string no UTF-8 encoder takes: it broke the Kafka key (lob:sku) and the event id.
    response = post_item_text(world, json.dumps({**ITEM, "sku": "\ud800"}))

    assert response.status_code == 400, response.text
    assert "surrogate" in response.json()["error"]
    assert nothing_published(world)


def test_an_emoji_written_as_a_surrogate_pair_escape_is_accepted(world):
    text = json.dumps({**ITEM, "sku": "SKU-\U0001F6D2"})  # ensure_ascii: "SKU-\ud83d\uded2", as PHP sends it

    response = post_item_text(world, text)

    assert "\\ud83d\\uded2" in text
    assert response.status_code == 202, response.text
    [event] = world.read(topics.INFOPLUS_INVENTORY)
    assert event["payload"]["sku"] == "SKU-\U0001F6D2"


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-32"])
def test_a_body_that_is_not_utf8_is_400(world, encoding):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET
    body = json.dumps({**ITEM, "itemDescription": "Crème brûlée"}, ensure_ascii=False).encode(encoding)

    response = world.post(INVENTORY, body, signed(body))

    assert response.status_code == 400, response.text  # utf-16/32 were guessed and accepted (202) before
    assert nothing_published(world)


# -- sizes: 413 --------------------------------------------------------------------------------------------
def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """A generator body: requests sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def padded_order(order_id: int, total_bytes: int) -> bytes:
    """A Shopify order of exactly `total_bytes`, padded with its note."""
    order = {**shopify_order(order_id=order_id), "note": ""}
    order["note"] = "x" * (total_bytes - len(json.dumps(order)))
    return json.dumps(order).encode()


def test_a_chunked_body_over_the_limit_is_413_not_401(world):
    # werkzeug reads a chunked body up to the limit and stops: the cut body used to fail its signature (401).
    world.overrides["MAX_BODY_BYTES"] = "6000"
    body = padded_order(5101, 9000)

    response = world.post("/webhooks/carts/101", chunks(body), shopify_headers(body, SHOPIFY_SECRET))

    assert response.status_code == 413, response.text
    assert "6000 bytes" in response.json()["error"]


def test_a_chunked_body_exactly_at_the_limit_is_accepted(world):
    world.overrides["MAX_BODY_BYTES"] = "6000"
    body = padded_order(5102, 6000)

    response = world.post("/webhooks/carts/101", chunks(body), shopify_headers(body, SHOPIFY_SECRET))

    assert len(body) == 6000
    assert response.status_code == 202, response.text


def test_a_body_over_kafkas_default_message_size_but_under_the_limit_is_accepted_and_readable(world):
    # Under MAX_BODY_BYTES (5 MiB), and its envelope (normalized order + original) is about 3 MB: over Kafka's
    # 1 MB default, within the 2 x MAX_BODY_BYTES cartbridge's producer and topics allow.
    body = padded_order(5104, 1_500_000)

    response = world.post("/webhooks/carts/101", body, shopify_headers(body, SHOPIFY_SECRET))

    assert response.status_code == 202, response.text
    [event] = world.read(topics.CART_ORDERS, timeout=20)
    assert event["payload"]["cart_order_id"] == "5104" and event["original"] == json.loads(body)


def test_an_event_too_large_for_a_topic_made_elsewhere_is_413_not_503(world):
    # A topic created with Kafka's 1 MB default (by ops, or auto-created by a stricter cluster): a 503 would
    # tell the cart to retry a delivery that can never succeed.
    admin = KafkaAdminClient(bootstrap_servers=world.bootstrap)
    try:
        admin.create_topics({world.settings().topic(topics.CART_ORDERS): {
            "num_partitions": 1, "replication_factor": -1, "configs": {"max.message.bytes": "1048588"}}})
    finally:
        admin.close()
    body = padded_order(5103, 1_500_000)

    response = world.post("/webhooks/carts/101", body, shopify_headers(body, SHOPIFY_SECRET))

    assert response.status_code == 413, response.text
    assert "Retry-After" not in response.headers
    assert "event store" in response.json()["error"]
    assert world.read(topics.CART_ORDERS, expect=0, timeout=2) == []


# -- the production server ---------------------------------------------------------------------------------
@pytest.fixture
def gunicorn_url(world) -> Iterator[str]:
    """The `web` Procfile line (gunicorn, config/gunicorn.py) with MAX_BODY_BYTES=6000, one worker."""
    port = free_port()
    env = {**world.environ(), "MAX_BODY_BYTES": "6000", "PORT": str(port), "HOST": "127.0.0.1",
           "WEB_CONCURRENCY": "1"}
    log = open(world.tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(url + "/healthz", timeout=5)
            return
        except requests.RequestException:  # not listening yet, or a loaded machine answering slowly
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_gunicorn_answers_413_past_the_limit_with_or_without_a_content_length(world, gunicorn_url):
    body = padded_order(5104, 9000)
    headers = shopify_headers(body, SHOPIFY_SECRET)

    with_length = requests.post(gunicorn_url + "/webhooks/carts/101", data=body, headers=headers, timeout=10)
    chunked = requests.post(gunicorn_url + "/webhooks/carts/101", data=chunks(body), headers=headers, timeout=10)
    at_limit = padded_order(5105, 6000)
    accepted = requests.post(gunicorn_url + "/webhooks/carts/101", data=chunks(at_limit),
                             headers=shopify_headers(at_limit, SHOPIFY_SECRET), timeout=10)

    assert with_length.status_code == chunked.status_code == 413, chunked.text
    assert accepted.status_code == 202, accepted.text
