"""A real Apache Kafka broker for the test session, started with the same script a developer uses (bin/kafka)."""
from __future__ import annotations

import fcntl
import json
import os
import random
import socket
import subprocess
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from config.settings import kafka_security_from_env

ROOT = Path(__file__).resolve().parents[2]


# Servers the tests start (brokers, gunicorn, metrics ports) listen on ports from here up to the kernel's ephemeral
# range. A port the kernel hands out for bind(0) comes from that range, which every outgoing connection draws from
# too: between free_port() and the server's bind, a Kafka client's connection could take it ("Address already in
# use" — more likely the more tests run side by side).
_LISTEN_PORTS_FROM = 20000


def _ephemeral_ports_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port no one listens on now, outside the range outgoing connections take their ports from."""
    candidates = list(range(_LISTEN_PORTS_FROM, _ephemeral_ports_start()))
    for port in random.sample(candidates, min(50, len(candidates))):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # a crowded low range: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """One single-node KRaft broker on free loopback ports, with its data in `data_dir`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, controller_port: int | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self._env = {**os.environ, "KAFKA_PORT": str(self.port),
                     "KAFKA_CONTROLLER_PORT": str(controller_port or free_port()), "KAFKA_DATA_DIR": str(data_dir)}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def controller_port(self) -> int:
        return int(self._env["KAFKA_CONTROLLER_PORT"])

    def start(self) -> None:
        """Start it and wait until it serves metadata. A start that fails stops whatever it left running: a JVM
        left behind by a timed-out start would hold the ports and the cores for the rest of the run."""
        try:
            subprocess.run([str(ROOT / "bin/kafka"), "start"], env=self._env, check=True, timeout=360)
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        subprocess.run([str(ROOT / "bin/kafka"), "stop"], env=self._env, check=True, timeout=60)

    def _wait_until_serving(self, timeout: float = 120) -> None:
        _wait_until_a_client_gets_in(timeout, bootstrap_servers=self.bootstrap)


def _wait_until_a_client_gets_in(timeout: float, **client_config) -> None:
    """Until an admin client with `client_config` connects (and logs in, on a secured listener), or raise at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            KafkaAdminClient(request_timeout_ms=10000, **client_config).close()
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def shared_broker_bootstrap(folder: Path) -> str:
    """The address of the test run's one broker. Whichever process asks first (a pytest-xdist worker, or pytest
    itself when it runs the tests alone) starts it, holding a lock in `folder`; the others wait on the lock and read
    its address. Every worker shares it — tests keep apart by topic prefix — and stop_shared_broker stops it."""
    folder.mkdir(parents=True, exist_ok=True)
    state = folder / "broker.json"
    with open(folder / "broker.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if state.exists():
            known = json.loads(state.read_text())
            if "error" in known:  # one failed start, reported by every worker, rather than one start per worker
                raise RuntimeError(f"the test run's broker did not start: {known['error']} (see {folder})")
            return f"127.0.0.1:{known['port']}"
        broker = Broker(folder / "data")
        try:
            broker.start()
        except Exception as error:
            state.write_text(json.dumps({"error": str(error)}))
            raise
        state.write_text(json.dumps({"port": broker.port}))
        return broker.bootstrap


def stop_shared_broker(folder: Path) -> None:
    """Stop the broker shared_broker_bootstrap started in `folder`, if one was (a run of unit tests starts none).
    The lock waits out a start still under way; the pid file covers a start its worker did not live to record."""
    if not (folder / "broker.lock").exists():
        return
    with open(folder / "broker.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "data" / "broker.pid").exists():
            state = folder / "broker.json"
            known = json.loads(state.read_text()) if state.exists() else {}
            Broker(folder / "data", port=known.get("port")).stop()


class SecureBroker(Broker):
    """A broker that also demands what managed clusters demand (bin/kafka's secured listeners): SASL_SSL with
    PLAIN and SCRAM-SHA-512 for one user, and SSL with a required client certificate (mTLS). Its PLAINTEXT
    listener stays, so tests can look at topics without going through the code under test."""

    def __init__(self, data_dir: Path, *, user: str, password: str) -> None:
        super().__init__(data_dir)
        self.sasl_ssl_port = free_port()
        self.mtls_port = free_port()
        self.user = user
        self.password = password
        self.tls_dir = data_dir / "tls"
        self.server_log = data_dir / "server.log"
        self._env.update({"KAFKA_SASL_SSL_PORT": str(self.sasl_ssl_port), "KAFKA_MTLS_PORT": str(self.mtls_port),
                          "KAFKA_LOCAL_USER": user, "KAFKA_LOCAL_PASSWORD": password})

    def _wait_until_serving(self, timeout: float = 120) -> None:
        """Also until each secured listener has let one client in: a fresh broker's first TLS handshakes and SCRAM
        logins (JIT, key setup) on a loaded machine took longer than the first test's 5 s bound, and the web tier
        reported a login the broker had not yet answered as "unreachable" instead of the refusal the test checks."""
        super()._wait_until_serving(timeout)
        for env in (self.sasl_ssl_env("SCRAM-SHA-512"), self.sasl_ssl_env("PLAIN"), self.mtls_env()):
            _wait_until_a_client_gets_in(timeout, bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
                                         **kafka_security_from_env(env))

    @property
    def ca_file(self) -> Path:
        """The broker's self-signed certificate, PEM: what a client trusts."""
        return self.tls_dir / "ca.pem"

    def failed_authentications(self) -> int:
        """How many connections the broker refused so far (a bad password, a failed TLS handshake)."""
        text = self.server_log.read_text(errors="replace") if self.server_log.exists() else ""
        return text.count("Failed authentication with")

    def sasl_ssl_env(self, mechanism: str, *, password: str | None = None, ca_file: Path | None = None) -> dict:
        """The environment a cartbridge process needs for the SASL_SSL listener."""
        return {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.sasl_ssl_port}", "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": mechanism, "KAFKA_SASL_USERNAME": self.user,
                "KAFKA_SASL_PASSWORD": self.password if password is None else password,
                "KAFKA_SSL_CAFILE": str(ca_file or self.ca_file)}

    def mtls_env(self, *, ca_file: Path | None = None) -> dict:
        """The environment a cartbridge process needs for the mTLS listener (a client certificate, no SASL)."""
        return {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.mtls_port}", "KAFKA_SECURITY_PROTOCOL": "SSL",
                "KAFKA_SSL_CAFILE": str(ca_file or self.ca_file),
                "KAFKA_SSL_CERTFILE": str(self.tls_dir / "client.pem"),
                "KAFKA_SSL_KEYFILE": str(self.tls_dir / "client-key.pem")}


def read_topic(bootstrap: str, topic: str, *, expect: int = 1, timeout: float = 20.0) -> list:
    """Every record on `topic` (all partitions, from the start) once at least `expect` are there, or at timeout."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = _wait_for_partitions(consumer, topic, timeout if expect else 2.0)
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return _collect(consumer, expect, timeout)
    finally:
        consumer.close()


def _wait_for_partitions(consumer: KafkaConsumer, topic: str, timeout: float) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in found]
        time.sleep(0.2)
    return []


def _collect(consumer: KafkaConsumer, expect: int, timeout: float) -> list:
    records: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
        if expect and len(records) >= expect:
            # a short grace period shows extra (unexpected) records too
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
            break
    return records
