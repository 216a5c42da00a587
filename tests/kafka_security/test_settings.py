"""The Kafka security settings are built in one place (Settings.kafka_client_config) and checked at startup."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from config.settings import KafkaSecurityError, Settings
from tests.support.kafka import ROOT

KAFKA_CLIENTS = {"KafkaConsumer", "KafkaProducer", "KafkaAdminClient"}
PRODUCT = [path for path in ROOT.glob("*/**/*.py")
           if path.relative_to(ROOT).parts[0] not in {"tests", "bench", "sandbox", ".venv", "kafka", "docs"}]


def client_calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in KAFKA_CLIENTS:
                yield node


def test_every_kafka_client_in_the_product_is_built_from_kafka_client_config():
    checked = []
    for path in PRODUCT:
        for call in client_calls(path):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            spread = [kw.value for kw in call.keywords if kw.arg is None]
            assert any(isinstance(value, ast.Call) and getattr(value.func, "attr", None) == "kafka_client_config"
                       for value in spread), f"{where} builds a Kafka client without **settings.kafka_client_config()"
            assert not {kw.arg for kw in call.keywords} & {"bootstrap_servers", "security_protocol"}, where
            checked.append(where)
    assert len(checked) >= 6  # publisher, engine, cursors (2), topics, replay, leadership, readiness …


def secured(**env: str) -> dict:
    return Settings.from_env(env).kafka_client_config()


def test_the_variables_become_kafka_python_arguments(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-")
    config = secured(KAFKA_BOOTSTRAP_SERVERS="a:9096, b:9096", KAFKA_SECURITY_PROTOCOL="sasl_ssl",
                     KAFKA_SASL_MECHANISM="scram-sha-512", KAFKA_SASL_USERNAME="svc", KAFKA_SASL_PASSWORD="s3cr3t",
                     KAFKA_SSL_CAFILE=str(ca))
    assert config == {"bootstrap_servers": ["a:9096", "b:9096"], "security_protocol": "SASL_SSL",
                      "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "svc",
                      "sasl_plain_password": "s3cr3t", "ssl_cafile": str(ca)}
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in repr(Settings.from_env(
        {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "svc",
         "KAFKA_SASL_PASSWORD": "s3cr3t"}))
    assert secured() == {"bootstrap_servers": ["localhost:9092"]}  # nothing set: PLAINTEXT, as before


@pytest.mark.parametrize("env, named", [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL=TLS"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
     "needs KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u",
      "KAFKA_SASL_PASSWORD": "p"}, "got GSSAPI"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"},
     "needs KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
     "KAFKA_SECURITY_PROTOCOL=PLAINTEXT uses no SASL"),  # the forgotten protocol would connect in plain text
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nowhere/ca.pem"}, "KAFKA_SSL_CAFILE=/nowhere/ca.pem"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
      "KAFKA_SASL_PASSWORD": "p", "KAFKA_SSL_CAFILE": "/nowhere/ca.pem"}, "uses no TLS"),
])
def test_a_mistake_stops_startup_naming_the_variable_and_never_the_password(env, named):
    with pytest.raises(KafkaSecurityError) as refused:
        Settings.from_env(env)
    assert named in str(refused.value)
    assert "KAFKA_SASL_PASSWORD" not in env or f"={env['KAFKA_SASL_PASSWORD']}" not in str(refused.value)


def test_a_client_certificate_needs_its_key(tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("-")
    with pytest.raises(KafkaSecurityError, match="go together"):
        Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": str(cert)})
