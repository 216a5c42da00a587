"""Records no handler can use never crash-loop the engine: an empty value, a tombstone, a handler that returns
something that is not an Outcome — each is dead-lettered with a reason and the partition moves on."""
from __future__ import annotations

import json
import uuid

from kafka import KafkaProducer

from consumers.engine import ConsumerEngine
from consumers.outcomes import done
from events import topics
from events.envelopes import make_envelope
from events.publisher import Publisher
from tests.consumers.test_engine_retry import one_partition_settings, run_engine_until
from tests.support.kafka import read_topic

TOPIC = "engine.poison"


def test_empty_and_tombstone_records_and_a_handler_returning_none_are_dead_lettered(kafka_bootstrap):
    settings = one_partition_settings(kafka_bootstrap, retry_backoff_initial_seconds=0.05, unexpected_error_attempts=2)
    topics.ensure_topics(settings, [TOPIC])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for value in (b"", None):  # an empty record, a tombstone
        producer.send(settings.topic(TOPIC), key=b"k", value=value).get(timeout=10)
    producer.close()
    publisher = Publisher(settings)
    [returns_none, fine] = [make_envelope(event_type="t", source="test", connection_id=None, dedupe_key=str(n),
                                          payload={"n": n}) for n in (1, 2)]
    publisher.publish_many(TOPIC, [("k", returns_none), ("k", fine)])
    handled: list[int] = []

    def handler(envelope):
        if envelope.payload["n"] == 1:
            return None  # a bug: no Outcome
        handled.append(envelope.payload["n"])
        return done("ok")

    engine = ConsumerEngine(kind=f"poison{uuid.uuid4().hex[:6]}", topic=TOPIC, handler=handler, settings=settings,
                            publisher=publisher)
    run_engine_until(engine, lambda: handled == [2], 30, "the good event after the poison ones")

    letters = [json.loads(r.value) for r in read_topic(kafka_bootstrap, settings.topic(topics.dead_letters(TOPIC)),
                                                        expect=3)]
    assert [letter["reason"] for letter in letters] == [
        "undecodable event: empty record value", "undecodable event: empty record value",
        "unexpected TypeError: the handler returned None, not an Outcome (after 2 attempts)"]
    assert letters[2]["event"]["event_id"] == returns_none.event_id
