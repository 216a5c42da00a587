"""Only one poller polls: leadership is the assignment of a one-partition topic in a Kafka consumer group.

Every copy joins the group `<prefix>cartbridge.poller` on the poller's cursor topic (which has one partition).
Kafka assigns that partition to exactly one member: that copy is the leader. When it stops cleanly the group
rebalances at once; when it dies, after the session timeout. No lock service, no extra infrastructure.

kafka-python 3 (eager protocol) keeps a partition in `assignment()` while a rebalance is under way — until the new
assignment replaces it — so "assigned" alone can answer yes after this copy has already been asked to give the
partition up. Leadership is therefore what the rebalance listener saw last: false from the moment of a revoke (or a
loss), true again only when an assignment gives the partition back. Each assignment starts a new `term`: the
poller re-reads its cursors then, since another copy may have moved them meanwhile.

Two kafka-python 3.0.12 behaviours this module works around (see `tests/poller/test_leadership_rejoin.py`):

- The coordinator takes a snapshot of the subscribed topics' partitions from each metadata update, and the first
  one it took was before `subscribe` (an empty subscription). Unless a metadata response arrives between
  `subscribe` and the first JoinGroup, the first assignment is made against that empty snapshot, and the next
  metadata refresh (which the assignment itself requests) "changes" it: a rebalance about half a second after every
  start. So the metadata is fetched after `subscribe` (the coordinator's listener sees it) before the first join.
- A rejoin started by such a metadata change, whose JoinGroup/SyncGroup round outlasts the `poll()` that started
  it (a loaded machine: more than our 100 ms), is never finished: the round completes in the background and clears
  the metadata trigger, so the next `poll()` no longer looks at it — no `on_partitions_assigned`, heartbeats stay
  off, the broker drops the member after the session timeout, and nothing ever rejoins. A rejoin asked for by the
  broker instead (another copy came or went) is re-sent, not applied, by each `poll()` that finds it done. Hence:
  while a revoke (or loss) awaits its assignment, `held()` keeps polling — back to back, up to one session timeout —
  so the round finishes inside a poll; and a watchdog rebuilds the consumer (close without commit, a new one,
  subscribe again; counted in `rebuilds`) when no assignment at all followed a revoke or loss within
  `REJOIN_WATCHDOG_SESSIONS` session timeouts. A standby's empty assignment is an assignment: it is not disturbed.
"""
from __future__ import annotations

import logging
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import KafkaError

from config.settings import Settings

log = logging.getLogger(__name__)

LEADERSHIP_METADATA_MAX_AGE_MS = 5_000
PARTITIONS_WAIT_SECONDS = 30.0
POLL_MS = 100
# A revoke (or loss) with no assignment at all (not even an empty one) for this many session timeouts: the rejoin
# is taken to be stuck inside kafka-python, and the consumer is rebuilt. A healthy rebalance of pollers takes about
# one heartbeat interval of the slowest copy plus its gap between two `held()` calls.
REJOIN_WATCHDOG_SESSIONS = 3


class _Tracker(ConsumerRebalanceListener):
    """Runs on kafka-python's IO thread: plain assignments only, nothing that blocks."""

    def __init__(self, term: int = 0) -> None:
        self.leading = False
        self.term = term
        self.awaiting_since: float | None = None  # monotonic time of a revoke/loss no assignment has followed yet
        self.awaiting_after = ""  # "revoke" or "loss"
        self.revokes = 0  # revokes and losses seen

    def _await(self, after: str) -> None:
        self.revokes += 1
        if self.awaiting_since is None:
            self.awaiting_since = time.monotonic()
            self.awaiting_after = after

    def on_partitions_revoked(self, revoked) -> None:
        if self.leading:
            log.info("poller leadership released")
        self.leading = False
        self._await("revoke")

    def on_partitions_lost(self, lost) -> None:
        if self.leading:
            log.warning("poller leadership lost (evicted from the group)")
        self.leading = False
        self._await("loss")

    def on_partitions_assigned(self, assigned) -> None:
        self.awaiting_since = None
        self.term += 1
        self.leading = bool(assigned)
        if self.leading:
            log.info("poller leadership acquired (term %d)", self.term)


class Leadership:
    def __init__(self, settings: Settings, topic: str) -> None:
        self._settings = settings
        self._topic = settings.topic(topic)
        self._session_ms = settings.consumer_session_timeout_ms
        self.rebuilds = 0  # consumers rebuilt by the watchdog
        self._tracker = _Tracker()
        self._consumer = self._subscribed_consumer()

    def _subscribed_consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            **self._settings.kafka_client_config(), group_id=self._settings.topic("cartbridge.poller"),
            enable_auto_commit=False, session_timeout_ms=self._session_ms,
            heartbeat_interval_ms=max(100, self._session_ms // 3), max_poll_records=1,
            metadata_max_age_ms=LEADERSHIP_METADATA_MAX_AGE_MS)  # a later change of the topic is seen soon
        consumer.subscribe([self._topic], listener=self._tracker)
        # Before the first join (the first poll), the topic's partitions must be in metadata fetched after
        # `subscribe`: a copy that joins before the (often just created) cursor topic's partition is in its
        # metadata is assigned nothing, and kafka-python 3.0.12 did not rebalance once it appeared (no copy
        # polled); and metadata fetched before `subscribe` leaves the coordinator's snapshot empty, which made a
        # rebalance right after the first assignment (see the module docstring).
        deadline = time.monotonic() + PARTITIONS_WAIT_SECONDS
        while not (self._topic in consumer.topics() and consumer.partitions_for_topic(self._topic)):
            if time.monotonic() > deadline:
                log.warning("%s has no partitions in the metadata yet; joining anyway", self._topic)
                break
            time.sleep(0.2)
        return consumer

    def held(self) -> bool:
        """Whether this copy leads now. Call it before each Infoplus page and each cursor save: the poll inside
        lets a rebalance proceed (a copy that never polls holds every other copy's join up) and keeps the
        membership alive. While a rebalance awaits this copy's assignment it polls for up to one session timeout.
        A call in which the partition was revoked (or lost) answers no, even if it was assigned again meanwhile:
        the caller stops where it is, and its next call sees leadership with a new `term`."""
        try:
            self._watch_rejoin()
            tracker, revokes = self._tracker, self._tracker.revokes
            self._consumer.poll(timeout_ms=POLL_MS)  # records are ignored: the assignment is the point
            deadline = time.monotonic() + self._session_ms / 1000
            while self._tracker.awaiting_since is not None and time.monotonic() < deadline:
                self._consumer.poll(timeout_ms=POLL_MS)  # the JoinGroup/SyncGroup round completes inside a poll
            for partition in self._consumer.assignment():
                self._consumer.pause(partition)  # no need to fetch the cursors through the group
        except KafkaError as error:
            log.warning("poller leadership unknown (%s); not polling", error)
            return False
        if tracker.revokes != revokes:
            return False  # given up and given back within this call: the caller must still stop (cursors moved?)
        return self._tracker.leading and bool(self._consumer.assignment())

    def _watch_rejoin(self) -> None:
        since = self._tracker.awaiting_since
        if self._consumer is not None:
            if since is None:
                return
            waited = time.monotonic() - since
            if waited <= REJOIN_WATCHDOG_SESSIONS * self._session_ms / 1000:
                return
            self.rebuilds += 1
            log.warning("poller leadership: no assignment %.1f s after a %s (more than %d session timeouts of %d ms):"
                        " kafka-python left the rejoin unfinished; rebuilding the group consumer (rebuild %d)",
                        waited, self._tracker.awaiting_after, REJOIN_WATCHDOG_SESSIONS, self._session_ms,
                        self.rebuilds)
            try:
                self._consumer.close(autocommit=False, timeout_ms=self._session_ms)  # leaves the group if it can
            except Exception as error:  # noqa: BLE001 — a stuck consumer may fail to close; it is dropped anyway
                log.warning("closing the stuck group consumer failed (%s); dropped", error)
            self._consumer = None
            # A new listener (late callbacks of the old consumer go to the old one); the terms carry on.
            self._tracker = _Tracker(term=self._tracker.term)
            self._tracker._await("rebuild")  # the new consumer's first join is watched too
        try:
            self._consumer = self._subscribed_consumer()
        except Exception as error:  # noqa: BLE001 — tried again at the next held()
            raise KafkaError(f"cannot rebuild the group consumer: {error}") from error

    @property
    def awaiting_assignment(self) -> bool:
        """A revoke or loss was seen and no assignment (not even an empty one) has followed yet."""
        return self._tracker.awaiting_since is not None

    @property
    def term(self) -> int:
        """Counts assignments: a new term means cursors may have moved under another leader."""
        return self._tracker.term

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)  # leaves the group: a standby takes over at once
