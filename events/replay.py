"""`cartbridge-replay --from cart.orders.dlq` (or `python -m events.replay`): put dead-lettered or skipped events
back on the main topic they came from, once their cause is fixed (an item created in Infoplus, a connection
repaired, a switch turned on, a bug fixed).

- Reads the side topic (`<topic>.dlq` or `<topic>.skipped`) from its beginning up to the end offsets it had when
  the command started, with no consumer group: nothing is committed, a run changes nothing on the side topic,
  and records written while it runs (e.g. the replayed event failing again) are left for the next run.
- Selects records by `--event-id`, `--connection`, `--reason`, `--since`, `--limit`; `--dry-run` lists them.
- Re-publishes each selected event's envelope to the main topic with the side record's Kafka key — the engine
  keeps the original event's key there (`<connection>:<cart order>`, `<lobId>:<sku>`, `<lobId>:<order>`), so one
  order's events stay on one partition, in order.
- The replayed envelope gets a new event id, uuid5 of the old id and the side record's place: the consumers'
  duplicate memory holds the old id (it was handled: dead-lettered or skipped), and a second run of the same
  replay publishes the same new id again, which that memory drops. Across consumer restarts the consumers' own
  look-before-write rules are what prevent doubles (an order already in Infoplus, tracking numbers already on
  the cart order). `delivery.replay_of` / `delivery.replayed_from` say where it came from.
- Inventory side topics are refused: an old stock level must not reach a cart; `cartbridge-inventory-resync`
  pushes today's levels. An event held in several records of one side topic is published once per run.
Exit status 0 when every selected event was published (or listed, with --dry-run); 1 when Kafka could not be
read or did not acknowledge a write (a message says how far it got; running it again is safe); 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Iterator, Sequence, TextIO

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition
from marshmallow import ValidationError

from config.logs import configure_logging
from config.settings import Settings
from events import topics
from events.kafka_errors import describe
from events.publisher import BrokerUnavailable, EventTooLarge, Publisher
from events.reading import ReadStalled, records_below
from schemas.envelope import Envelope, EnvelopeSchema

_NAMESPACE = uuid.UUID("c0a4f5e2-6b1d-4f3a-8e27-5d9b0c3a71f4")  # replayed event ids; not the envelopes' namespace
_SIDE_TOPICS = {side(main): main for main in topics.MAIN_TOPICS for side in (topics.dead_letters, topics.skipped)}
PUBLISH_BATCH = 100  # events acknowledged together: one round trip per batch, not per event
IDLE_TIMEOUT_SECONDS = 30.0  # no record for this long while offsets remain below the end: the broker is not serving

log = logging.getLogger("events.replay")


class ReplayError(Exception):
    """The side topic could not be read to its end, or a replayed event was not acknowledged."""


# -- selecting --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """Which side records to replay; every given filter must match."""

    event_ids: frozenset[str] = frozenset()
    connection_id: int | None = None
    reason: str | None = None  # substring, case-insensitive
    since: datetime | None = None  # compared with the record's failed_at / skipped_at
    limit: int | None = None

    def matches(self, record: "SideRecord") -> bool:
        if self.event_ids and record.event_id not in self.event_ids:
            return False
        if self.connection_id is not None and record.connection_id != self.connection_id:
            return False
        if self.reason and self.reason.casefold() not in record.reason.casefold():
            return False
        return self.since is None or (record.recorded_at is not None and record.recorded_at >= self.since)


@dataclass
class SideRecord:
    """One record of a side topic, read defensively: side topics also hold what could never be decoded."""

    where: str  # "<side topic>@<partition>:<offset>", unprefixed
    key: str | None
    reason: str
    recorded_at: datetime | None
    envelope: Envelope | None
    connection_id: int | None  # the record's own (one per connection of a fanned-out event), else the event's
    problem: str | None = None  # why it cannot be replayed

    @property
    def event_id(self) -> str | None:
        return self.envelope.event_id if self.envelope else None


def read_side_record(side_topic: str, partition: int, offset: int, key: bytes | None,
                     value: bytes | None) -> SideRecord:
    where = f"{side_topic}@{partition}:{offset}"
    try:
        body = json.loads(value or b"")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return SideRecord(where, None, "", None, None, None, problem="the side record is not a JSON object")
    envelope, problem = _envelope_of(body.get("event"))
    if problem is None and key is None:
        problem = "the side record has no Kafka key to publish it under"
    connection_id = body.get("connection_id")
    if connection_id is None and envelope is not None:
        connection_id = envelope.connection_id
    return SideRecord(where, key.decode("utf-8", "replace") if key is not None else None,
                      str(body.get("reason") or ""), _timestamp(body.get("failed_at") or body.get("skipped_at")),
                      envelope, _as_int(connection_id), problem)


def _envelope_of(event: object) -> tuple[Envelope | None, str | None]:
    if event is None:  # the engine dead-letters undecodable raw records with `raw` and no `event`
        return None, "no event: the original record could not be decoded (see the side record's `raw`)"
    try:
        return EnvelopeSchema().load(event), None
    except ValidationError as error:
        return None, f"the event is not a valid envelope: {error.messages}"


def _timestamp(text: object) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(str(text))) if text else None
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    """Times without an offset are UTC, as every time cartbridge writes is."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _as_int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# -- reading ----------------------------------------------------------------------------------------------------
def read_to_end(settings: Settings, side_topic: str) -> Iterator:
    """Every record of the prefixed side topic from its beginning up to the end offsets it has now."""
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(settings.topic(side_topic), p)
                      for p in sorted(consumer.partitions_for_topic(settings.topic(side_topic)))]
        if not partitions:
            log.info("%s does not exist: nothing to replay", settings.topic(side_topic))
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        yield from _records_below(consumer, consumer.end_offsets(partitions))
    finally:
        consumer.close(autocommit=False)


def _consumer(settings: Settings) -> KafkaConsumer:
    try:
        return KafkaConsumer(**settings.kafka_client_config(), group_id=None, enable_auto_commit=False,
                             allow_auto_create_topics=False,  # reading a side topic never creates one
                             bootstrap_timeout_ms=10_000,
                             max_partition_fetch_bytes=settings.max_event_bytes, metrics_enabled=False)
    except KafkaError as error:
        raise ReplayError(f"cannot reach Kafka: {describe(error)}") from error


def _records_below(consumer: KafkaConsumer, end: dict[TopicPartition, int]) -> Iterator:
    try:
        yield from records_below(consumer, end, IDLE_TIMEOUT_SECONDS)  # records written after the start are the next run's
    except ReadStalled as error:
        raise ReplayError(str(error)) from error


# -- replaying --------------------------------------------------------------------------------------------------
def replayed_envelope(record: SideRecord) -> Envelope:
    """The event as it goes back: same content, a new id that is the same on every run of the same replay."""
    old = record.envelope
    return replace(old, event_id=str(uuid.uuid5(_NAMESPACE, f"{old.event_id}|{record.where}")),
                   delivery={**old.delivery, "replay_of": old.event_id, "replayed_from": record.where})


@dataclass
class ReplayReport:
    read: int = 0
    selected: int = 0
    replayed: int = 0
    same_event_again: int = 0
    not_replayable: int = 0
    dry_run: bool = False
    pending: list[tuple[SideRecord, Envelope]] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would replay" if self.dry_run else "replayed"
        return (f"read {self.read} records, selected {self.selected}: {verb} {self.replayed}, "
                f"same event already in this run {self.same_event_again}, not replayable {self.not_replayable}")


class Replay:
    """Select from one side topic and publish back to its main topic, printing one line per selected record."""

    def __init__(self, side_topic: str, selection: Selection, publisher: Publisher | None, out: TextIO) -> None:
        self.side_topic = side_topic
        self.main_topic = _SIDE_TOPICS[side_topic]
        self._selection = selection
        self._publisher = publisher  # None: a dry run
        self._out = out
        self._seen: dict[str, str] = {}  # old event id -> where it was first selected in this run
        self.report = ReplayReport(dry_run=publisher is None)

    def run(self, records: Iterator) -> ReplayReport:
        for raw in records:
            if self._limit_reached():
                break
            self.report.read += 1
            self._consider(read_side_record(self.side_topic, raw.partition, raw.offset, raw.key, raw.value))
        self._flush()
        return self.report

    def _limit_reached(self) -> bool:
        limit = self._selection.limit
        return limit is not None and self.report.replayed + len(self.report.pending) >= limit

    def _consider(self, record: SideRecord) -> None:
        if not self._selection.matches(record):
            return
        self.report.selected += 1
        if record.problem is not None:
            self.report.not_replayable += 1
            self._line("not replayable", record, record.problem)
        elif record.event_id in self._seen:
            self.report.same_event_again += 1
            self._line("same event", record, f"already selected from {self._seen[record.event_id]}")
        else:
            self._seen[record.event_id] = record.where
            self.report.pending.append((record, replayed_envelope(record)))
            if len(self.report.pending) >= PUBLISH_BATCH:
                self._flush()

    def _flush(self) -> None:
        """Publish the pending events and wait for Kafka's acknowledgement; only then are they reported."""
        pending, self.report.pending = self.report.pending, []
        if not pending:
            return
        if self._publisher is not None:
            try:
                self._publisher.publish_many(self.main_topic, [(record.key, new) for record, new in pending])
            except (BrokerUnavailable, EventTooLarge) as error:
                raise ReplayError(f"{error}; {self.report.replayed} events replayed before this batch of "
                                  f"{len(pending)} (running the same replay again is safe)") from error
        for record, new in pending:
            self.report.replayed += 1
            self._line("would replay" if self._publisher is None else "replayed", record, f"as {new.event_id}")

    def _line(self, verb: str, record: SideRecord, note: str) -> None:
        connection = record.connection_id if record.connection_id is not None else "-"
        print(f"{verb}: event {record.event_id or '-'} connection {connection} {record.where} {note}; "
              f"reason: {record.reason or '-'}", file=self._out, flush=True)


# -- the command ------------------------------------------------------------------------------------------------
def refusal(side_topic: str) -> str | None:
    """Why events of `side_topic` (unprefixed) may not be replayed, or None when they may."""
    if side_topic not in _SIDE_TOPICS:
        return f"{side_topic!r} is not a side topic; one of: {', '.join(sorted(_SIDE_TOPICS))} (without KAFKA_TOPIC_PREFIX)"
    if _SIDE_TOPICS[side_topic] == topics.INFOPLUS_INVENTORY:  # an old level written to a cart could oversell
        return ("an inventory event carries the stock level of its time, which a consumer restarted since would "
                "apply whatever its age: run cartbridge-inventory-resync to push today's levels instead")
    return None


def replay(settings: Settings, side_topic: str, selection: Selection, publisher: Publisher | None,
           out: TextIO) -> ReplayReport:
    """The whole replay (the command and the ops console both run this): read the side topic to the end offsets
    it has now and publish the selected events (`publisher` None: a dry run). Raises ReplayError / KafkaError;
    `ValueError` for a side topic that `refusal` refuses."""
    refused = refusal(side_topic)
    if refused:
        raise ValueError(refused)
    runner = Replay(side_topic, selection, publisher, out)
    try:
        with closing(read_to_end(settings, side_topic)) as records:  # --limit may stop before the end
            return runner.run(records)
    except (ReplayError, KafkaError) as error:
        raise ReplayError(f"{error}; so far: {runner.report.summary()}") from error


def _side_topic(name: str) -> str:
    refused = refusal(name)
    if refused:
        raise argparse.ArgumentTypeError(refused)
    return name


def _since(text: str) -> datetime:
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date-time (e.g. 2025-03-01T08:00:00Z)") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cartbridge-replay", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="side_topic", required=True, type=_side_topic,
                        help="side topic without the prefix: e.g. cart.orders.dlq, infoplus.shipments.skipped")
    parser.add_argument("--event-id", action="append", default=[], help="only this (original) event id; repeatable")
    parser.add_argument("--connection", type=int, help="only events of this connection id")
    parser.add_argument("--reason", help="only records whose reason contains this text (case-insensitive)")
    parser.add_argument("--since", type=_since, help="only records dead-lettered/skipped at or after this ISO time "
                                                     "(UTC unless it names an offset)")
    parser.add_argument("--limit", type=_positive, help="replay at most this many events")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed; publish nothing")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = _args(argv)
    settings = Settings.from_env()
    selection = Selection(frozenset(args.event_id), args.connection, args.reason, args.since, args.limit)
    publisher = None if args.dry_run else Publisher(settings)
    try:
        report = replay(settings, args.side_topic, selection, publisher, sys.stdout)
    except ReplayError as error:
        print(f"replay stopped: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        if publisher is not None:
            publisher.close()
    print(report.summary(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
