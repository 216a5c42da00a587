"""What a consumer copy tells ops about its connections' carts, so the ops console and `cartbridge-status` (other
processes) can show it: one record per flow, connection and copy on `cartbridge.connection.health` (compacted,
kept a day), keyed `<flow>:<connection>:<copy>`.

A record is written when a connection's health changes (at most every MIN_INTERVAL_SECONDS per key), and every
HEARTBEAT_SECONDS while its cart is failing or events wait; the first healthy record after a failure says it is
over. Readers take each key's newest record of the last few minutes and drop those not refreshed lately: a copy
that was killed stops counting (ops/cluster.py `connection_health`). No secret, no payload: the last error is the
reason line (method, URL, status, the answer's gist).
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from kafka.errors import KafkaError

from config.settings import Settings
from consumers.circuits import ConnectionHealth
from events import topics
from events.publisher import BrokerUnavailable, EventTooLarge, Publisher

log = logging.getLogger("consumers.engine")

HEARTBEAT_SECONDS = 30.0
MIN_INTERVAL_SECONDS = 2.0
QUIET_AFTER_FAILURE_SECONDS = 30.0  # Kafka not taking the record: try again later, never slow the loop down
RETENTION_MS = 86_400_000


def ensure_health_topic(settings: Settings) -> None:
    spec = {"num_partitions": 1, "replication_factor": -1,
            "configs": {"cleanup.policy": "compact,delete", "retention.ms": str(RETENTION_MS)}}
    with topics.admin_client(settings) as admin:
        topics.create_missing(admin, {settings.topic(topics.CONNECTION_HEALTH): spec})


class HealthBroadcast:
    def __init__(self, settings: Settings, publisher: Publisher, copy: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._topic_made = False  # made before the first record, not at start: most copies never need it
        self._publisher = publisher
        self._copy = copy  # this consumer process: client id (host and pid)
        self._clock = clock
        self._sent: dict[str, tuple[float, dict]] = {}
        self._quiet_until = 0.0

    def send(self, report: list[ConnectionHealth]) -> None:
        now = self._clock()
        if now < self._quiet_until:
            return
        for row in report:
            key, value = f"{row.flow}:{row.connection_id}:{self._copy}", row.to_dict()
            if not self._worth_sending(row, value, self._sent.get(key), now):
                continue
            try:
                self._make_topic()
                self._publisher.publish_record(topics.CONNECTION_HEALTH, key.encode(),
                                               {**value, "copy": self._copy, "at": now})
            except (BrokerUnavailable, EventTooLarge, KafkaError) as error:
                log.warning("connection health not published (%s); again in %.0f s", error,
                            QUIET_AFTER_FAILURE_SECONDS)
                self._quiet_until = now + QUIET_AFTER_FAILURE_SECONDS
                return
            self._sent[key] = (now, value)

    def _make_topic(self) -> None:
        if not self._topic_made:
            ensure_health_topic(self._settings)
            self._topic_made = True

    @staticmethod
    def _worth_sending(row: ConnectionHealth, value: dict, last: tuple[float, dict] | None, now: float) -> bool:
        troubled = row.failing or row.waiting > 0
        if last is None:
            return troubled
        at, before = last
        if now - at < MIN_INTERVAL_SECONDS:
            return False
        return value != before or (troubled and now - at >= HEARTBEAT_SECONDS)
