"""Reading a topic's partitions from where a consumer stands up to the end offsets they have now — what a replay,
a cursor load and a state restore all need."""
from __future__ import annotations

import time
from typing import Iterator

from kafka import KafkaConsumer
from kafka.structs import TopicPartition


class ReadStalled(Exception):
    """No record came for a while although offsets remain below the end: the broker is not serving them."""


def records_below(consumer: KafkaConsumer, end: dict[TopicPartition, int], idle_timeout: float) -> Iterator:
    """Every record of the assigned partitions below `end` (a partition's end offsets, read beforehand); the
    partitions are paused as each reaches its end, so records written later are left for the next reader."""
    remaining = {tp for tp, offset in end.items() if consumer.position(tp) < offset}
    idle_since = time.monotonic()
    while remaining:
        batch = consumer.poll(timeout_ms=500)
        if batch:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > idle_timeout:
            raise ReadStalled(f"no records for {idle_timeout:.0f}s from "
                              f"{', '.join(f'{tp.topic}[{tp.partition}]' for tp in sorted(remaining))}")
        for tp in sorted(batch):
            yield from (record for record in batch[tp] if record.offset < end[tp])
        for tp in [tp for tp in remaining if consumer.position(tp) >= end[tp]]:
            remaining.discard(tp)
            consumer.pause(tp)
