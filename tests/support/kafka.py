"""A real Apache Kafka broker for the test session, started with the same script a developer uses (bin/kafka)."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """One single-node KRaft broker on free loopback ports, with its data in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self._env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(free_port()),
                     "KAFKA_DATA_DIR": str(data_dir)}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run([str(ROOT / "bin/kafka"), "start"], env=self._env, check=True, timeout=300)
        self._wait_until_serving()

    def stop(self) -> None:
        subprocess.run([str(ROOT / "bin/kafka"), "stop"], env=self._env, check=True, timeout=60)

    def _wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000).close()
                return
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


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
