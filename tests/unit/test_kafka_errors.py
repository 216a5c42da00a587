"""kafka-python's connection noise around a TLS/SASL connection that no cause explained becomes one line."""
from __future__ import annotations

import logging

from events import kafka_errors


def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("kafka.net.transport", level, __file__, 1, message, (), None)


def test_secured_noise_with_no_cause_collapses_to_one_warning_saying_the_broker_closed_the_connection():
    kafka_errors._reported.pop(kafka_errors.category(kafka_errors.BROKER_CLOSED), None)

    def noise() -> list[logging.LogRecord]:
        return [record("<KafkaSSLTransport [none] (closed)>: socket disconnected"),
                record("<KafkaConnection node_id=bootstrap-0>: Connection lost: socket disconnected"),
                record("Bootstrap connection to bootstrap-0 failed", logging.WARNING)]

    [line] = kafka_errors._OneLinePerCause._collapse_secured(noise())
    assert line.levelno == logging.WARNING and kafka_errors.BROKER_CLOSED in line.getMessage()
    assert kafka_errors._OneLinePerCause._collapse_secured(noise()) == []  # once a minute


def test_plain_text_noise_is_released_as_written():
    noise = [record("<KafkaTCPTransport [none] (closed)>: socket disconnected")]
    assert kafka_errors._OneLinePerCause._collapse_secured(noise) == noise
