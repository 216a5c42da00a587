"""Durable cursors ("connection 202 is reconciled up to T") on a compacted Kafka topic.

Each save is one JSON record keyed by the cursor's name, acknowledged by the broker (acks=all) before `save`
returns; compaction keeps the latest record per key, so `load` reads the whole (small) topic once at startup.
Kafka is already the one stateful dependency, so the cursor needs no database, and every copy of the process,
on any machine, resumes from the same place.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from config.settings import Settings
from events.publisher import BrokerUnavailable, Publisher
from events.topics import admin_client, create_missing

log = logging.getLogger(__name__)

LOAD_TIMEOUT_SECONDS = 30.0
_TOPIC_CONFIG = {"num_partitions": 1, "replication_factor": -1, "configs": {"cleanup.policy": "compact"}}


class CursorStore:
    def __init__(self, settings: Settings, topic: str, publisher: Publisher) -> None:
        self._settings = settings
        self._name = settings.topic(topic)
        self._topic = topic
        self._publisher = publisher

    def load(self) -> dict[str, dict[str, Any]]:
        """Every cursor's latest value; raises BrokerUnavailable if the topic cannot be read in time."""
        self._ensure_topic()
        consumer = KafkaConsumer(**self._settings.kafka_client_config(), group_id=None, enable_auto_commit=False)
        try:
            return self._read_to_end(consumer)
        finally:
            consumer.close()

    def save(self, name: str, value: dict[str, Any]) -> None:
        """Write one cursor and wait for the broker's acknowledgement (raises BrokerUnavailable)."""
        self._publisher.publish_record(self._topic, name.encode(), value)

    def _read_to_end(self, consumer: KafkaConsumer) -> dict[str, dict[str, Any]]:
        partitions = [TopicPartition(self._name, p) for p in sorted(consumer.partitions_for_topic(self._name) or {0})]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        values: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"could not read {self._name} to its end in {LOAD_TIMEOUT_SECONDS:.0f} s")
            for records in consumer.poll(timeout_ms=500).values():
                values.update((r.key.decode(), json.loads(r.value)) for r in records if r.key and r.value)
        return values

    def _ensure_topic(self) -> None:
        with admin_client(self._settings, bootstrap_timeout_ms=30_000) as admin:
            if create_missing(admin, {self._name: _TOPIC_CONFIG}):
                log.info("created compacted topic %s", self._name)
