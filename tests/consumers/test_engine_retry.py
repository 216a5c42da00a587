"""The consumer engine, in-process on the real broker: a retry in the middle of a buffered batch must not stall
its partition (kafka-python 3.0.12 parks a paused partition's buffered records and may never restore them)."""
from __future__ import annotations

import json
import threading
import time
import uuid

from config.settings import Settings
from consumers.engine import ConsumerEngine
from consumers.outcomes import done
from events import topics
from events.envelopes import make_envelope
from events.publisher import Publisher
from outbound.errors import Retryable
from tests.support.kafka import read_topic
from tests.support.world import eventually

TOPIC = "engine.retry"


def one_partition_settings(bootstrap: str, **overrides) -> Settings:
    return Settings(kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
                    kafka_topic_partitions=1, **overrides)


def publish_numbered(publisher: Publisher, count: int) -> list:
    """`count` events {"n": 0..count-1} under one key: one partition, in order."""
    envelopes = [make_envelope(event_type="t", source="test", connection_id=None, dedupe_key=str(n),
                               payload={"n": n}) for n in range(count)]
    publisher.publish_many(TOPIC, [("key", envelope) for envelope in envelopes])
    return envelopes


def run_engine_until(engine: ConsumerEngine, condition, timeout: float, message: str) -> None:
    """Run the engine in a thread until `condition()` holds (then a moment more for strays), then stop it."""
    runner = threading.Thread(target=engine.run, daemon=True)
    runner.start()
    try:
        eventually(condition, timeout, message=message)
        time.sleep(0.5)
    finally:
        engine.stop()
        runner.join(timeout=30)


def test_a_retry_mid_batch_resumes_the_partition_and_every_event_is_handled_once_done(kafka_bootstrap):
    settings = one_partition_settings(kafka_bootstrap, retry_backoff_initial_seconds=0.1)
    publisher = Publisher(settings)
    publish_numbered(publisher, 300)  # fetched in bulk
    handled: list[int] = []
    refused = threading.Event()

    def handler(envelope):
        n = envelope.payload["n"]
        if n == 150 and not refused.is_set():  # fails once while later records sit in the fetcher's buffer
            refused.set()
            raise Retryable("cart said wait", retry_after=0.3)
        handled.append(n)
        return done(f"handled {n}")

    engine = ConsumerEngine(kind=f"retrytest{uuid.uuid4().hex[:6]}", topic=TOPIC, handler=handler,
                            settings=settings, publisher=publisher)
    run_engine_until(engine, lambda: len(handled) >= 300, 45, "300 events handled")
    assert refused.is_set() and sorted(handled) == list(range(300))
    assert engine.counts["retried"] == 1


def test_an_unexpected_error_is_retried_then_dead_lettered_and_the_partition_moves_on(kafka_bootstrap):
    settings = one_partition_settings(kafka_bootstrap, retry_backoff_initial_seconds=0.05, unexpected_error_attempts=3)
    publisher = Publisher(settings)
    envelopes = publish_numbered(publisher, 5)
    handled: list[int] = []
    calls_for_poison: list[int] = []

    def handler(envelope):
        n = envelope.payload["n"]
        if n == 2:  # a bug this event always hits
            calls_for_poison.append(n)
            return {}["missing"]
        handled.append(n)
        return done(f"handled {n}")

    engine = ConsumerEngine(kind=f"bugtest{uuid.uuid4().hex[:6]}", topic=TOPIC, handler=handler,
                            settings=settings, publisher=publisher)
    run_engine_until(engine, lambda: handled == [0, 1, 3, 4], 30, "the events after the poison one handled")
    assert len(calls_for_poison) == 3 and engine.counts["dead_lettered"] == 1
    dead_letters = read_topic(kafka_bootstrap, settings.topic(topics.dead_letters(TOPIC)))
    [dead] = [json.loads(record.value) for record in dead_letters]
    assert dead["reason"] == "unexpected KeyError: 'missing' (after 3 attempts)" and dead["attempts"] == 3
    assert "KeyError" in dead["error"]["traceback"] and dead["event"]["event_id"] == envelopes[2].event_id
