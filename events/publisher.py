"""The Kafka publisher: a write counts only once the broker acknowledged it (acks=all)."""
from __future__ import annotations

import json
import logging
import threading

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError

from config.settings import Settings
from events.kafka_errors import describe
from schemas.envelope import Envelope

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge the write in time; the caller must not report success."""


class EventTooLarge(Exception):
    """Kafka refuses the record for its size (a topic made with a smaller limit): no retry can succeed."""


_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)


class Publisher:
    """One producer per process, created on first use (so gunicorn workers each get their own after fork)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def publish(self, topic: str, key: str, envelope: Envelope) -> None:
        """Publish to the prefixed `topic` and wait for the broker's acknowledgement."""
        self.publish_many(topic, [(key, envelope)])

    def publish_many(self, topic: str, items: list[tuple[str, Envelope]]) -> None:
        """Publish several events and wait until all are acknowledged (they batch together)."""
        self._send_all(topic, [(key.encode(), envelope.to_json()) for key, envelope in items])

    def publish_record(self, topic: str, key: bytes | None, record: dict | None, *,
                       partition: int | None = None) -> None:
        """Publish a plain JSON record (dead letters, skipped records, state) and wait for the acknowledgement;
        `partition` pins it (a state topic mirrors its input's partitions); None is a tombstone."""
        value = None if record is None else json.dumps(record, separators=(",", ":"), default=str).encode()
        self._send_all(topic, [(key, value)], partition=partition)

    def _send_all(self, topic: str, items: list[tuple[bytes | None, bytes | None]], *,
                  partition: int | None = None) -> None:
        producer = self._get_producer()
        try:
            futures = [producer.send(self._settings.topic(topic), key=key, value=value, partition=partition)
                       for key, value in items]
            for future in futures:
                future.get(timeout=self._settings.publish_timeout_seconds)
        except _TOO_LARGE as error:  # the producer is fine: keep it
            raise EventTooLarge(f"Kafka refused the record for its size: {error}") from error
        except KafkaError as error:
            self._discard_producer()
            raise BrokerUnavailable(f"Kafka did not acknowledge the write: {describe(error)}") from error

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self._settings.publish_timeout_seconds)
                self._producer = None

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = self._create_producer()
            return self._producer

    def _create_producer(self) -> KafkaProducer:
        timeout_ms = int(self._settings.publish_timeout_seconds * 1000)
        try:
            return KafkaProducer(
                **self._settings.kafka_client_config(),
                acks="all",
                # 2 ms lets concurrent requests share one produce request: under load the broker's CPU per
                # event fell from ~770 to ~200 us (bench/webhooks.py); a lone webhook waits 2 ms more.
                linger_ms=2,
                metrics_enabled=False,  # nothing reads kafka-python's metrics; recording them costs ~10 % per send
                max_request_size=self._settings.max_event_bytes,
                max_block_ms=timeout_ms,  # a send() while the broker is unknown must not outlive the cart's 5 s
                request_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
            )
        except KafkaError as error:
            raise BrokerUnavailable(f"cannot reach Kafka: {describe(error)}") from error

    def _discard_producer(self) -> None:
        # kafka-python's idempotent producer can stay wedged (UnknownProducerId) after an outage;
        # a fresh producer recovers. Records still buffered in the old one may yet be delivered:
        # that is a duplicate, never a loss, and consumers are idempotent.
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            threading.Thread(target=_close_quietly, args=(producer,), daemon=True).start()


def _close_quietly(producer: KafkaProducer) -> None:
    try:
        producer.close(timeout=0)
    except Exception as error:  # a producer wedged by an outage may fail to close; it is being dropped anyway
        log.info("discarded Kafka producer did not close cleanly: %r", error)
