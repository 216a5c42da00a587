"""One extra broker for this folder's tests: it demands what managed clusters demand (SASL_SSL with PLAIN and
SCRAM-SHA-512, and TLS client certificates), beside a PLAINTEXT listener the tests use to look at topics.
The rest of the suite stays on the session's plain broker."""
from __future__ import annotations

import secrets
import subprocess

import pytest

from tests.support.kafka import SecureBroker

USER = "cartbridge-tests"


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory):
    # A password no other string in any log could contain by chance: tests look for it in every log.
    broker = SecureBroker(tmp_path_factory.mktemp("kafka-secure"), user=USER,
                          password=f"pw-{secrets.token_hex(8)}")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(secure_broker):
    """World reads topics through the secure broker's PLAINTEXT listener, independent of the code under test."""
    return secure_broker.bootstrap


@pytest.fixture(scope="session")
def unknown_ca(tmp_path_factory):
    """A CA certificate that did not sign the broker's: what a client with the wrong KAFKA_SSL_CAFILE trusts."""
    folder = tmp_path_factory.mktemp("unknown-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=not the broker's CA", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "ca.pem")], check=True, capture_output=True, timeout=60)
    return folder / "ca.pem"
