"""Helpers for the engine-concurrency tests (issue 24): in-process engines in threads, a handler's bookkeeping of what
runs at once, and the group's committed offsets read the way an operator would (an admin client beside the engine)."""
from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from collections import Counter, defaultdict
from typing import Iterator

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from config.settings import Settings
from consumers.engine import ConsumerEngine
from events.envelopes import make_envelope
from events.publisher import Publisher
from schemas.envelope import Envelope

# The concurrency settings issue 24 adds: set when this Settings knows them, so the tests import on an engine that
# predates them (and fail there on behaviour, not on a missing field).
CONCURRENCY = {"consumer_concurrency": 32, "connection_max_in_flight": 4}
TICK_SECONDS = 0.1  # Traffic publishes a batch this often


def engine_settings(bootstrap: str, *, partitions: int, **overrides) -> Settings:
    """Settings for engines run in this process, on a fresh topic prefix. The session timeout is short (a member that
    stops heartbeating is dropped within seconds) but leaves room for heartbeats late behind dozens of handler
    threads in the same Python process."""
    settings = Settings(kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
                        kafka_topic_partitions=partitions, consumer_session_timeout_ms=6000, **overrides)
    known = {field.name for field in dataclasses.fields(Settings)}
    return dataclasses.replace(settings, **{name: value for name, value in CONCURRENCY.items() if name in known})


def numbered(key: str, seq: int, connection_id: int | None = None) -> Envelope:
    """The `seq`-th event of `key`: the handler reads both from the payload."""
    return make_envelope(event_type="t", source="test", connection_id=connection_id, dedupe_key=f"{key}:{seq}",
                         payload={"key": key, "seq": seq})


@contextlib.contextmanager
def running(engine: ConsumerEngine) -> Iterator[threading.Thread]:
    """The engine's loop in a thread, stopped however the block ends (SIGTERM's path: events in flight finish)."""
    runner = threading.Thread(target=engine.run, name=f"engine-{engine.kind}", daemon=True)
    runner.start()
    try:
        yield runner
    finally:
        stop(engine, runner)


def stop(engine: ConsumerEngine, runner: threading.Thread, timeout: float = 60) -> None:
    engine.stop()
    runner.join(timeout=timeout)
    assert not runner.is_alive(), f"engine {engine.kind} did not stop within {timeout}s"


class InFlight:
    """What a test handler is working on right now, per key and overall, and the most there ever were at once.
    Handlers run on the engine's worker threads: every change is under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now: Counter = Counter()  # key -> events of that key being handled now
        self.total = 0
        self.most_per_key: Counter = Counter()
        self.most_overall = 0

    @contextlib.contextmanager
    def handling(self, key: str) -> Iterator[None]:
        with self._lock:
            self.now[key] += 1
            self.total += 1
            self.most_per_key[key] = max(self.most_per_key[key], self.now[key])
            self.most_overall = max(self.most_overall, self.total)
        try:
            yield
        finally:
            with self._lock:
                self.now[key] -= 1
                self.total -= 1


class Effects:
    """A stand-in for an outside system the handler writes to, with the look-before-write the real flows use: look
    (is it written?), then the slow call, then write. The look and the write are separate steps, as a cart read and a
    cart write are — so the same event handled twice at once writes twice, and shows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.written: dict[str, list[str]] = defaultdict(list)  # event id -> who wrote it (one entry, if all is well)
        self.order: dict[str, list[int]] = defaultdict(list)  # key -> the sequence numbers written, in write order
        self._handling: dict[str, set[str]] = defaultdict(set)  # event id -> the engines handling it now
        self.overlaps: list[tuple[str, str, str]] = []  # (event id, engine, engine already handling it)

    @contextlib.contextmanager
    def handled_by(self, engine: str, event_id: str) -> Iterator[None]:
        with self._lock:
            self.overlaps.extend((event_id, engine, other) for other in self._handling[event_id])
            self._handling[event_id].add(engine)
        try:
            yield
        finally:
            with self._lock:
                self._handling[event_id].discard(engine)

    def already_written(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self.written

    def write(self, engine: str, event_id: str, key: str, seq: int) -> None:
        with self._lock:
            self.written[event_id].append(engine)
            self.order[key].append(seq)

    def count(self) -> int:
        with self._lock:
            return len(self.written)

    def written_by(self, engine: str) -> int:
        with self._lock:
            return sum(writers.count(engine) for writers in self.written.values())


class CommittedOffsets:
    """The group's committed offsets per partition of one topic, and the topic's end offsets, read with clients of
    their own (no group membership: the engines' group is left alone)."""

    def __init__(self, settings: Settings, kind: str, topic: str) -> None:
        self._admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=10000)
        self._reader = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                     enable_auto_commit=False)
        self._group = settings.topic(f"cartbridge.{kind}")  # the engine's group id (ConsumerEngine._group_id)
        self._topic = settings.topic(topic)

    def read(self) -> dict[int, int]:
        offsets = self._admin.list_group_offsets({self._group: None}).get(self._group, {})
        return {tp.partition: meta.offset for tp, meta in offsets.items()
                if tp.topic == self._topic and meta.offset >= 0}

    def ends(self) -> dict[int, int]:
        partitions = [TopicPartition(self._topic, p) for p in self._reader.partitions_for_topic(self._topic) or ()]
        return {tp.partition: offset for tp, offset in self._reader.end_offsets(partitions).items()}

    def caught_up(self) -> bool:
        """Committed up to the end of every partition: nothing of what is on the topic is left to handle."""
        ends = self.ends()
        return bool(ends) and self.read() == {p: end for p, end in ends.items() if end > 0}

    def close(self) -> None:
        self._admin.close()
        self._reader.close()


class CommitWatch:
    """Samples the committed offset of one partition in the background and keeps the highest seen, so a test can
    say "it never passed N while …" without sleeping."""

    def __init__(self, offsets: CommittedOffsets, partition: int, interval: float = 0.1) -> None:
        self._offsets = offsets
        self._partition = partition
        self._interval = interval
        self._stopping = threading.Event()
        self.highest: int | None = None
        self.samples = 0
        self._thread = threading.Thread(target=self._sample, name="commit-watch", daemon=True)

    def __enter__(self) -> "CommitWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def _sample(self) -> None:
        while not self._stopping.is_set():
            offset = self._offsets.read().get(self._partition)
            if offset is not None:
                self.highest = offset if self.highest is None else max(self.highest, offset)
            self.samples += 1
            self._stopping.wait(self._interval)


class Traffic:
    """A steady stream of numbered events over `keys` keys (key i belongs to connection i + 1), published from a
    thread of its own until stopped: events keep arriving while copies join and leave."""

    def __init__(self, settings: Settings, topic: str, *, keys: int, per_second: float) -> None:
        self._publisher = Publisher(settings)
        self._topic = topic
        self._keys = [f"key-{n}" for n in range(keys)]
        self._per_tick = max(1, round(per_second * TICK_SECONDS))
        self._stopping = threading.Event()
        self.published: list[Envelope] = []  # in publish order; read it once stopped
        self._thread = threading.Thread(target=self._publish, name="traffic", daemon=True)

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._publisher.close()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def _publish(self) -> None:
        while not self._stopping.is_set():
            batch = [self._event(len(self.published) + n) for n in range(self._per_tick)]
            self._publisher.publish_many(self._topic, [(event.payload["key"], event) for event in batch])
            self.published.extend(batch)
            self._stopping.wait(TICK_SECONDS)

    def _event(self, number: int) -> Envelope:
        seq, slot = divmod(number, len(self._keys))
        return numbered(self._keys[slot], seq, connection_id=slot + 1)


def wait_until(condition, timeout: float) -> bool:
    """True as soon as `condition()` holds, False at timeout: the assertion that follows says what was found."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
