"""What the ops console and `cartbridge-status` read from Kafka: consumer groups and their lag, the poller's
leadership and cursors, side records (dead letters, skipped), and per-connection counts over the last day.

Everything comes from the cluster itself — committed offsets, end offsets, group descriptions, the side topics,
the poller's cursor topic — so it is true for every copy of every process, running or stopped, without scraping
them. One admin client and one group-less consumer per console process, used under a lock.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from config.settings import Settings
from events import topics
from events.replay import SideRecord, read_side_record
from metrics.poller import STATUS_KEY, cursor_age_seconds
from poller.poller import CURSOR_TOPIC

# consumer kind -> the main topic its group reads (the group is `<prefix>cartbridge.<kind>`)
CONSUMERS = {"orders": topics.CART_ORDERS, "tracking": topics.INFOPLUS_SHIPMENTS, "inventory": topics.INFOPLUS_INVENTORY}
FLOWS = {topics.CART_ORDERS: "orders", topics.INFOPLUS_INVENTORY: "inventory", topics.INFOPLUS_SHIPMENTS: "tracking"}
HISTORY_SECONDS = 15 * 60
# Connection health (consumers/health.py): copies refresh a failing connection's record every 30 s; read the last
# few minutes, and count a copy's record only while it is refreshed (a killed copy stops counting).
HEALTH_WINDOW_SECONDS = 5 * 60
HEALTH_FRESH_SECONDS = 2 * 60
MIN_TREND_SECONDS = 20.0  # two samples closer than this say nothing about a trend
TIMEOUT_MS = 5_000


@dataclass
class Member:
    client_id: str
    host: str
    partitions: list[str]


@dataclass
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - (self.committed or 0))


@dataclass
class GroupReport:
    kind: str
    group: str
    topic: str
    state: str
    partition_count: int
    members: list[Member]
    partitions: list[PartitionLag]
    hint: str = ""

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


@dataclass
class PollerReport:
    leader: str | None
    members: int
    cursors: list[tuple[str, str, float | None]]  # (name, since, age seconds)
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def last_cycle_age(self) -> float | None:
        return cursor_age_seconds(self.status["last_cycle_at"]) if self.status.get("last_cycle_at") else None


@dataclass
class CartHealth:
    """One connection's cart in one flow, over every consumer copy (times are Unix seconds)."""

    connection_id: int
    flow: str
    failing: bool
    failing_since: float | None
    last_error: str
    waiting: int
    next_try: float | None

    @property
    def since_text(self) -> str:
        return _utc(self.failing_since)

    @property
    def next_try_text(self) -> str:
        return _utc(self.next_try) if self.next_try is not None else "now"


def _utc(unix_seconds: float | None) -> str:
    """A Unix time as UTC, to the second, for people ("" when there is none)."""
    if unix_seconds is None:
        return ""
    return datetime.fromtimestamp(unix_seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def merge_health(records: list[dict], now: float, fresh_seconds: float = HEALTH_FRESH_SECONDS) -> list[CartHealth]:
    """Each copy's newest record per connection and flow (in order read), merged: failing if any copy says so,
    events waiting summed over copies. A healthy record is final; a failing one counts only while refreshed."""
    newest: dict[tuple[int, str, str], dict] = {}
    for record in records:
        newest[(record["connection_id"], record["flow"], record.get("copy", ""))] = record
    merged: dict[tuple[int, str], CartHealth] = {}
    for (cid, flow, _), record in newest.items():
        live = now - float(record.get("at", 0)) <= fresh_seconds
        failing, waiting = bool(record.get("failing")) and live, int(record.get("waiting") or 0) if live else 0
        seen = merged.setdefault((cid, flow), CartHealth(cid, flow, False, None, "", 0, None))
        seen.waiting += waiting
        if failing:
            seen.failing = True
            seen.failing_since = _earliest(seen.failing_since, record.get("failing_since"))
            seen.last_error = record.get("last_error") or seen.last_error
            seen.next_try = _earliest(seen.next_try, record.get("next_try"))
    return sorted(merged.values(), key=lambda h: (h.connection_id, h.flow))


def _earliest(*times: float | None) -> float | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


@dataclass
class Sample:
    at: float
    end: int
    committed: int


def scaling_hint(members: int, partitions: int, samples: list[Sample]) -> str:
    """A plain sentence: does this group keep up, and if not, how many copies would (at most the partition count)."""
    if members == 0:
        return "no copy is running: start one (the lag waits for it)"
    if len(samples) < 2 or samples[-1].at - samples[0].at < MIN_TREND_SECONDS:
        return "watching: the trend shows after a few refreshes"
    first, last = samples[0], samples[-1]
    seconds = last.at - first.at
    lag_then, lag_now = first.end - first.committed, last.end - last.committed
    if lag_now <= lag_then or lag_now == 0:
        return "keeping up"
    arriving, handled = (last.end - first.end) / seconds, (last.committed - first.committed) / seconds
    if handled <= 0:
        return (f"stuck: nothing committed in {seconds:.0f} s while {lag_now} wait — more copies will not help; "
                f"look at retries and dead letters")
    needed = math.ceil(arriving / (handled / members))
    if needed > partitions:
        return (f"falling behind ({arriving:.1f}/s in, {handled:.1f}/s done): even {partitions} copies — the "
                f"partition count — would not keep up; add partitions or make handling faster")
    if needed <= members:
        return f"lag growing ({arriving:.1f}/s in, {handled:.1f}/s done), but {members} copies should catch up"
    return (f"falling behind ({arriving:.1f}/s in, {handled:.1f}/s done): run {needed} copies "
            f"(up to {partitions}, the partition count)")


class Cluster:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None
        self._history: dict[str, deque[Sample]] = defaultdict(deque)
        self._counts_cache: tuple[float, dict] | None = None

    def close(self) -> None:
        with self._lock:
            if self._admin is not None:
                self._admin.close()
            if self._consumer is not None:
                self._consumer.close(autocommit=False)
            self._admin = self._consumer = None

    # -- clients ----------------------------------------------------------------------------------------------
    def _clients(self) -> tuple[KafkaAdminClient, KafkaConsumer]:
        if self._admin is None:
            self._admin = KafkaAdminClient(**self._settings.kafka_client_config(), request_timeout_ms=TIMEOUT_MS)
        if self._consumer is None:
            self._consumer = KafkaConsumer(**self._settings.kafka_client_config(), group_id=None,
                                           enable_auto_commit=False, allow_auto_create_topics=False,
                                           request_timeout_ms=TIMEOUT_MS + 1000,
                                           max_partition_fetch_bytes=self._settings.max_event_bytes,
                                           metrics_enabled=False)
        return self._admin, self._consumer

    def _partitions(self, consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
        name = self._settings.topic(topic)
        return [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]

    # -- consumer groups --------------------------------------------------------------------------------------
    def groups(self) -> list[GroupReport]:
        with self._lock:
            admin, consumer = self._clients()
            ids = {kind: self._settings.topic(f"cartbridge.{kind}") for kind in CONSUMERS}
            described = admin.describe_groups(list(ids.values()))
            committed = admin.list_group_offsets(list(ids.values()))
            reports = [self._group(kind, ids[kind], described.get(ids[kind], {}), committed.get(ids[kind], {}),
                                   consumer) for kind in CONSUMERS]
        return reports

    def _group(self, kind: str, group: str, description: dict, committed: dict, consumer: KafkaConsumer) -> GroupReport:
        main = self._partitions(consumer, CONSUMERS[kind])
        members = [Member(m.get("client_id", "?"), str(m.get("client_host", "?")).lstrip("/"),
                          [f"{a['topic'].removeprefix(self._settings.kafka_topic_prefix)}[{p}]"
                           for a in (m.get("member_assignment") or {}).get("assigned_partitions", [])
                           for p in a["partitions"]])
                   for m in description.get("members", [])]
        wanted = sorted(set(main) | set(committed))
        ends = consumer.end_offsets(wanted, timeout_ms=TIMEOUT_MS) if wanted else {}
        partitions = [PartitionLag(tp.topic.removeprefix(self._settings.kafka_topic_prefix), tp.partition,
                                   committed[tp].offset if tp in committed else None, ends.get(tp, 0))
                      for tp in wanted]
        report = GroupReport(kind, group, CONSUMERS[kind], description.get("group_state", "Dead"), len(main),
                             members, partitions)
        report.hint = scaling_hint(len(members), len(main), self._sample(group, partitions))
        return report

    def _sample(self, group: str, partitions: list[PartitionLag]) -> list[Sample]:
        now = time.monotonic()
        history = self._history[group]
        history.append(Sample(now, sum(p.end for p in partitions), sum(p.committed or 0 for p in partitions)))
        while history and now - history[0].at > HISTORY_SECONDS:
            history.popleft()
        return list(history)

    # -- the poller -------------------------------------------------------------------------------------------
    def poller(self) -> PollerReport:
        with self._lock:
            admin, consumer = self._clients()
            group = self._settings.topic("cartbridge.poller")
            members = admin.describe_groups([group]).get(group, {}).get("members", [])
            leader = next((f"{m.get('client_id')} on {str(m.get('client_host')).lstrip('/')}" for m in members
                           if (m.get("member_assignment") or {}).get("assigned_partitions")), None)
            values = self._latest_by_key(consumer, CURSOR_TOPIC)
        cursors = sorted((name, value["since"], cursor_age_seconds(value["since"])) for name, value in values.items()
                         if isinstance(value, dict) and "since" in value)
        return PollerReport(leader, len(members), cursors, values.get(STATUS_KEY) or {})

    def _latest_by_key(self, consumer: KafkaConsumer, topic: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for record in self._read(consumer, self._partitions(consumer, topic), start=None):
            if record.key and record.value:
                try:
                    values[record.key.decode()] = json.loads(record.value)
                except ValueError:
                    continue
        return values

    # -- connection health (consumers/health.py) ---------------------------------------------------------------
    def connection_health(self) -> list[CartHealth]:
        now = time.time()
        with self._lock:
            _, consumer = self._clients()
            raw = self._since(consumer, topics.CONNECTION_HEALTH, int((now - HEALTH_WINDOW_SECONDS) * 1000))
        records = [body for body in (_body(record.value) for record in raw)
                   if isinstance(body.get("connection_id"), int) and isinstance(body.get("flow"), str)]
        return merge_health(records, now)

    # -- side records -----------------------------------------------------------------------------------------
    def side_records(self, side_topic: str, *, connection_id: int | None = None, reason: str | None = None,
                     limit: int = 100, scan: int = 2000) -> list[tuple[SideRecord, dict]]:
        """The newest records of a side topic (the last `scan` per partition), newest first, filtered."""
        with self._lock:
            _, consumer = self._clients()
            partitions = self._partitions(consumer, side_topic)
            if not partitions:
                return []
            ends = consumer.end_offsets(partitions, timeout_ms=TIMEOUT_MS)
            raw = list(self._read(consumer, partitions, start={tp: max(0, ends[tp] - scan) for tp in partitions}))
        found = []
        for record in raw:
            side = read_side_record(side_topic, record.partition, record.offset, record.key, record.value)
            if connection_id is not None and side.connection_id != connection_id:
                continue
            if reason and reason.casefold() not in side.reason.casefold():
                continue
            found.append((side, _body(record.value), record.timestamp))
        found.sort(key=lambda item: item[2], reverse=True)
        return [(side, body) for side, body, _ in found[:limit]]

    # -- counts per connection --------------------------------------------------------------------------------
    def counts(self, lob_of: dict[int, int], max_age: float = 30.0) -> dict:
        """{(connection id, flow, what): [last hour, last day]} for what = received / skipped / dead_lettered.
        Inventory and shipment events name a LOB, not a connection: they count for each connection of it."""
        cached = self._counts_cache
        if cached and time.monotonic() - cached[0] < max_age:
            return cached[1]
        now_ms = int(time.time() * 1000)
        counts: dict = defaultdict(lambda: [0, 0])
        with self._lock:
            _, consumer = self._clients()
            for main, flow in FLOWS.items():
                for name, what in ((main, "received"), (topics.skipped(main), "skipped"),
                                   (topics.dead_letters(main), "dead_lettered")):
                    for record in self._since(consumer, name, now_ms - 86_400_000):
                        for connection in _connections_of(record, main, what, lob_of):
                            slot = counts[(connection, flow, what)]
                            slot[1] += 1
                            if record.timestamp >= now_ms - 3_600_000:
                                slot[0] += 1
        self._counts_cache = (time.monotonic(), dict(counts))
        return self._counts_cache[1]

    def _since(self, consumer: KafkaConsumer, topic: str, since_ms: int) -> Iterable:
        partitions = self._partitions(consumer, topic)
        if not partitions:
            return []
        found = consumer.offsets_for_times({tp: since_ms for tp in partitions}, timeout_ms=TIMEOUT_MS)
        ends = consumer.end_offsets(partitions, timeout_ms=TIMEOUT_MS)
        start = {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in partitions}
        return list(self._read(consumer, partitions, start=start, ends=ends))

    # -- reading ----------------------------------------------------------------------------------------------
    @staticmethod
    def _read(consumer: KafkaConsumer, partitions: list[TopicPartition], *, start: dict | None,
              ends: dict | None = None, timeout: float = 10.0) -> Iterable:
        """Records from `start` (None: the beginning) to the end offsets as they are now."""
        if not partitions:
            return
        ends = ends or consumer.end_offsets(partitions, timeout_ms=TIMEOUT_MS)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start[tp]) if start is not None else consumer.seek_to_beginning(tp)
        remaining = {tp for tp in partitions if consumer.position(tp, timeout_ms=TIMEOUT_MS) < ends[tp]}
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                yield from (r for r in records if r.offset < ends[tp])
            remaining = {tp for tp in remaining if consumer.position(tp, timeout_ms=TIMEOUT_MS) < ends[tp]}
        consumer.assign([])


def _body(value: bytes | None) -> dict:
    try:
        body = json.loads(value or b"")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _connections_of(record, main: str, what: str, lob_of: dict[int, int]) -> list[int]:
    if what != "received":
        body = _body(record.value)
        connection = body.get("connection_id") or (body.get("event") or {}).get("connection_id")
        if connection is not None:
            return [int(connection)]
    key = (record.key or b"").decode("utf-8", "replace")
    head = key.partition(":")[0]
    if not head.isdigit():
        return []
    if main == topics.CART_ORDERS:
        return [int(head)]
    return [connection for connection, lob in lob_of.items() if lob == int(head)]
