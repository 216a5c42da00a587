"""The production path over the listeners managed clusters offer: Confluent Cloud (SASL_SSL + PLAIN), Amazon MSK
(SASL_SSL + SCRAM-SHA-512) and Aiven / MSK TLS (client certificates). Every process connects only to the secured
port; one that ignored the KAFKA_SECURITY_* settings could not publish or consume at all."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from events import topics
from sandbox.sample import shopify_order
from tests.support.kafka import ROOT
from tests.support.world import eventually

MODES = ["sasl_ssl_plain", "sasl_ssl_scram", "mtls"]


def security_env(broker, mode: str) -> dict[str, str]:
    if mode == "sasl_ssl_plain":
        return broker.sasl_ssl_env("PLAIN")
    if mode == "sasl_ssl_scram":
        return broker.sasl_ssl_env("SCRAM-SHA-512")
    return broker.mtls_env()


@pytest.fixture
def secured(world, secure_broker, request):
    """The world with every process pointed at one of the secured listeners."""
    world.overrides.update(security_env(secure_broker, request.param))
    assert world.settings().kafka_bootstrap_servers != secure_broker.bootstrap  # not the PLAINTEXT port
    return world


def created(world) -> list[str]:
    return [order["customerOrderNo"] for order in world.infoplus.orders]


def no_secret_in(text: str, broker) -> None:
    assert broker.password not in text


@pytest.mark.parametrize("secured", MODES, indirect=True)
def test_an_order_flows_end_to_end_and_readyz_asks_the_broker(secured, secure_broker):
    world = secured
    consumer = world.start_consumer("orders")

    assert requests.get(world.web_url + "/readyz", timeout=5).status_code == 200
    response = world.post_shopify_order(shopify_order(order_id=9101))
    assert response.status_code == 202, response.text

    eventually(lambda: created(world) == ["101-9101"], 45, message="the order in Infoplus")
    [event] = world.read(topics.CART_ORDERS)  # through the PLAINTEXT listener: what the web tier wrote
    assert event["event_id"] in response.json()["event_ids"]
    no_secret_in(consumer.output(), secure_broker)


@pytest.mark.parametrize("secured", ["sasl_ssl_scram"], indirect=True)
def test_a_restarted_consumer_resumes_where_it_committed(secured):
    world = secured
    consumer = world.start_consumer("orders")
    assert world.post_shopify_order(shopify_order(order_id=9201)).status_code == 202
    eventually(lambda: created(world) == ["101-9201"], 45, message="the first order")
    assert consumer.terminate() == 0  # SIGTERM: commits over SASL_SSL, exits 0

    for order_id in (9202, 9203):  # accepted while no consumer runs
        assert world.post_shopify_order(shopify_order(order_id=order_id)).status_code == 202
    world.start_consumer("orders")

    eventually(lambda: sorted(created(world)) == ["101-9201", "101-9202", "101-9203"], 45,
               message="the orders accepted while it was down, each once")


@pytest.mark.parametrize("secured", ["sasl_ssl_plain"], indirect=True)
def test_a_dead_letter_is_replayed_over_sasl_ssl(secured, secure_broker):
    world = secured
    world.infoplus.known_skus = {10000: {"SKU-1"}}  # NEW-SKU is unknown: Infoplus refuses the order (422)
    world.start_consumer("orders")
    assert world.post_shopify_order(shopify_order(order_id=9301, skus=["NEW-SKU"])).status_code == 202
    [dead] = world.read(topics.dead_letters(topics.CART_ORDERS), timeout=45)
    assert "answered 422" in dead["reason"]

    world.infoplus.known_skus[10000].add("NEW-SKU")  # the cause is fixed
    replay = subprocess.run([sys.executable, "-m", "events.replay", "--from", topics.dead_letters(topics.CART_ORDERS)],
                            cwd=ROOT, env=world.environ(), capture_output=True, text=True, timeout=90)
    assert replay.returncode == 0, replay.stdout + replay.stderr[-2000:]
    assert f"replayed: event {dead['event']['event_id']}" in replay.stdout
    eventually(lambda: created(world) == ["101-9301"], 45, message="the replayed order in Infoplus")
    no_secret_in(replay.stdout + replay.stderr, secure_broker)


@pytest.mark.parametrize("secured", ["mtls"], indirect=True)
def test_cartbridge_topics_creates_every_topic_over_mtls(secured):
    world = secured
    result = subprocess.run([sys.executable, "-m", "events.topics"], cwd=ROOT, env=world.environ(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=world.bootstrap)  # PLAINTEXT: see what is there, independently
    try:
        present = set(admin.list_topics())
    finally:
        admin.close()
    assert {world.prefix + name for name in topics.all_topics()} <= present


@pytest.mark.parametrize("secured", ["sasl_ssl_scram"], indirect=True)
def test_the_poller_leads_keeps_its_cursor_and_publishes_over_sasl_ssl(secured, secure_broker):
    world = secured
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.5", "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "60"})
    poller = world.start_poller()  # cursor topic, leadership group and publisher: all over SASL_SSL
    world.infoplus.add_shipment(1000.0, "1Z-SEC-1", lob_id=10000)
    [first] = world.read(topics.INFOPLUS_SHIPMENTS, timeout=45)
    assert first["payload"]["tracking_no"] == "1Z-SEC-1"
    cursors = world.read("infoplus.poller.cursors", timeout=20)  # saved once the event was acknowledged
    assert cursors
    assert poller.terminate() == 0

    world.infoplus.add_shipment(1001.0, "1Z-SEC-2", lob_id=10000)
    world.start_poller()  # resumes from the cursor it saved over SASL_SSL: the first shipment is not sent again
    eventually(lambda: len(world.read(topics.INFOPLUS_SHIPMENTS, expect=2, timeout=5)) >= 2, 45,
               message="the shipment changed while it was stopped")
    shipped = [e["payload"]["tracking_no"] for e in world.read(topics.INFOPLUS_SHIPMENTS, expect=3, timeout=3)]
    assert sorted(shipped) == ["1Z-SEC-1", "1Z-SEC-2"]
    no_secret_in(poller.output(), secure_broker)
