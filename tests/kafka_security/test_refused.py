"""What a wrong password or an untrusted certificate does: the web tier answers 503 (never 202, never 500) within
the cart's 5 s, /readyz says not ready and why, a consumer waits and says why in one line, no log carries the
password, and nothing accepted is lost."""
from __future__ import annotations

import logging
import secrets
import subprocess
import sys
import time

import pytest
import requests

from events import kafka_errors, topics
from sandbox.sample import shopify_order
from tests.support.kafka import ROOT
from tests.support.world import eventually

WRONG_PASSWORD = f"wrong-{secrets.token_hex(8)}"


def refused_env(case: str, broker, unknown_ca) -> dict[str, str]:
    if case == "wrong_password":
        return broker.sasl_ssl_env("SCRAM-SHA-512", password=WRONG_PASSWORD)
    if case == "unknown_ca":
        return broker.sasl_ssl_env("PLAIN", ca_file=unknown_ca)
    env = broker.mtls_env()  # no_client_certificate: TLS to the mTLS listener without a certificate
    del env["KAFKA_SSL_CERTFILE"], env["KAFKA_SSL_KEYFILE"]
    return env


CAUSE = {"wrong_password": "authentication failed", "unknown_ca": "certificate not trusted",
         "no_client_certificate": "client certificate refused"}


def assert_no_secret(text: str, broker) -> None:
    assert broker.password not in text and WRONG_PASSWORD not in text


@pytest.mark.parametrize("case", ["wrong_password", "unknown_ca", "no_client_certificate"])
def test_the_web_tier_answers_503_and_readyz_says_why(case, world, secure_broker, unknown_ca, caplog):
    caplog.set_level(logging.INFO)
    world.overrides.update(refused_env(case, secure_broker, unknown_ca))
    web = world.web_url

    started = time.monotonic()
    response = world.post_shopify_order(shopify_order(order_id=9401))
    assert response.status_code == 503, response.text
    assert time.monotonic() - started < 5 and int(response.headers["Retry-After"]) > 0

    started = time.monotonic()
    ready = requests.get(web + "/readyz", timeout=5)
    assert time.monotonic() - started < 5
    assert ready.status_code == 503 and ready.json() == {"status": "not ready", "kafka": CAUSE[case]}

    assert world.read(topics.CART_ORDERS, expect=0, timeout=2) == []
    assert CAUSE[case] in caplog.text  # the 503's log line names the cause
    assert "Traceback" not in caplog.text
    assert_no_secret(caplog.text + response.text + ready.text, secure_broker)


@pytest.mark.parametrize("case", ["wrong_password", "unknown_ca"])
def test_a_consumer_waits_says_why_once_and_loses_nothing(case, world, secure_broker, unknown_ca):
    world.overrides.update(secure_broker.sasl_ssl_env("PLAIN"))
    assert world.post_shopify_order(shopify_order(order_id=9501)).status_code == 202  # accepted, in Kafka

    world.overrides.update(refused_env(case, secure_broker, unknown_ca))
    refused_before = secure_broker.failed_authentications()
    waiting = world.start_consumer("orders")
    # Past kafka-python's first bootstrap (5-7 refused attempts in its 5 s) into the consumer's next try.
    eventually(lambda: secure_broker.failed_authentications() - refused_before >= 9, 30, interval=0.5,
               message="the consumer keeps trying")
    assert waiting.running() and world.infoplus.orders == []
    log = waiting.output()
    cause_lines = [line for line in log.splitlines() if CAUSE[case] in line]
    closed_lines = [line for line in log.splitlines() if kafka_errors.BROKER_CLOSED in line]
    # One clear line: the cause, or — when kafka-python lost the broker's answer on every try, which a loaded
    # machine makes likely — that the broker closed the connection without saying why.
    assert len(cause_lines) == 1 or (not cause_lines and len(closed_lines) == 1), log
    assert "Traceback" not in log and "ERROR" not in log, log
    assert_no_secret(log, secure_broker)
    assert waiting.terminate() == 0  # it stops cleanly while waiting

    world.overrides.update(secure_broker.sasl_ssl_env("PLAIN"))  # the operator fixes the setting
    world.start_consumer("orders")
    eventually(lambda: [o["customerOrderNo"] for o in world.infoplus.orders] == ["101-9501"], 45,
               message="the order accepted before the outage, created once")


def test_cartbridge_replay_with_a_wrong_password_exits_1_naming_the_cause(world, secure_broker, unknown_ca):
    world.overrides.update(refused_env("wrong_password", secure_broker, unknown_ca))
    result = subprocess.run([sys.executable, "-m", "events.replay", "--from", topics.dead_letters(topics.CART_ORDERS)],
                            cwd=ROOT, env=world.environ(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    # The cause, or — when kafka-python lost the broker's answer on every try — that the broker closed the connection.
    named = "cannot reach Kafka: authentication failed" in output or kafka_errors.BROKER_CLOSED in output
    assert named and "Traceback" not in output, output
    assert_no_secret(output, secure_broker)
