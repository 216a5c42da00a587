"""Only one poller polls: leadership is the assignment of a one-partition topic in a Kafka consumer group.

Every copy joins the group `<prefix>cartbridge.poller` on the poller's cursor topic (which has one partition).
Kafka assigns that partition to exactly one member: that copy is the leader. When it stops cleanly the group
rebalances at once; when it dies, after the session timeout. No lock service, no extra infrastructure.

kafka-python 3 (eager protocol) keeps a partition in `assignment()` while a rebalance is under way — until the new
assignment replaces it — so "assigned" alone can answer yes after this copy has already been asked to give the
partition up. Leadership is therefore what the rebalance listener saw last: false from the moment of a revoke (or a
loss), true again only when an assignment gives the partition back. Each assignment starts a new `term`: the
poller re-reads its cursors then, since another copy may have moved them meanwhile.
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


class _Tracker(ConsumerRebalanceListener):
    """Runs on kafka-python's IO thread: plain assignments only, nothing that blocks."""

    def __init__(self) -> None:
        self.leading = False
        self.term = 0

    def on_partitions_revoked(self, revoked) -> None:
        if self.leading:
            log.info("poller leadership released")
        self.leading = False

    def on_partitions_lost(self, lost) -> None:
        if self.leading:
            log.warning("poller leadership lost (evicted from the group)")
        self.leading = False

    def on_partitions_assigned(self, assigned) -> None:
        self.term += 1
        self.leading = bool(assigned)
        if self.leading:
            log.info("poller leadership acquired (term %d)", self.term)


class Leadership:
    def __init__(self, settings: Settings, topic: str) -> None:
        session_ms = settings.consumer_session_timeout_ms
        self._consumer = KafkaConsumer(
            **settings.kafka_client_config(), group_id=settings.topic("cartbridge.poller"),
            enable_auto_commit=False, session_timeout_ms=session_ms, heartbeat_interval_ms=max(100, session_ms // 3),
            max_poll_records=1,
            metadata_max_age_ms=LEADERSHIP_METADATA_MAX_AGE_MS)  # a later change of the topic is seen soon
        # A copy that joins before the (often just created) cursor topic's partition is in its metadata is
        # assigned nothing, and kafka-python 3.0.12 did not rebalance once it appeared: no copy polled.
        self._wait_for_partitions(settings.topic(topic))
        self._tracker = _Tracker()
        self._consumer.subscribe([settings.topic(topic)], listener=self._tracker)

    def _wait_for_partitions(self, topic: str) -> None:
        deadline = time.monotonic() + PARTITIONS_WAIT_SECONDS
        while not self._consumer.partitions_for_topic(topic):
            if time.monotonic() > deadline:
                log.warning("%s has no partitions in the metadata yet; joining anyway", topic)
                return
            time.sleep(0.2)

    def held(self) -> bool:
        """Whether this copy leads now. Call it before each Infoplus page and each cursor save: the poll inside
        lets a rebalance proceed (a copy that never polls holds every other copy's join up) and keeps the
        membership alive."""
        try:
            self._consumer.poll(timeout_ms=100)  # records are ignored: the assignment is the point
            for partition in self._consumer.assignment():
                self._consumer.pause(partition)  # no need to fetch the cursors through the group
        except KafkaError as error:
            log.warning("poller leadership unknown (%s); not polling", error)
            return False
        return self._tracker.leading and bool(self._consumer.assignment())

    @property
    def term(self) -> int:
        """Counts assignments: a new term means cursors may have moved under another leader."""
        return self._tracker.term

    def close(self) -> None:
        self._consumer.close(autocommit=False)  # leaves the group: a standby takes over at once
