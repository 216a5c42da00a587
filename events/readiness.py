"""Is Kafka ready for this process? Asked of the broker itself, with this process's own settings. And
`IMPEDIMENTS`: what else, said by the part that knows, keeps a process from its work (every Infoplus API key
refused), which a loop process's /readyz reports.

A TCP connect says nothing about a wrong password or an untrusted certificate: readiness means the broker
answered a request (DescribeCluster) over an authenticated connection. The answer is cached for CACHE_SECONDS,
so an orchestrator probing every second costs about one small request every two seconds, on a connection kept
open between checks, and a check never takes longer than ANSWER_WITHIN_SECONDS (probes give up after 5 s).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from kafka import KafkaAdminClient

from config.settings import Settings
from events.kafka_errors import category, describe

log = logging.getLogger(__name__)

CACHE_SECONDS = 2.0
ANSWER_WITHIN_SECONDS = 3.5
_BROKER_TIMEOUT_MS = 2_500


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str  # "ready", or a fixed category ("authentication failed", "unreachable" …): never a secret


class Impediments:
    """Reasons, by source, that this process cannot do its work although Kafka is fine. Set and cleared by the
    part that sees them (infoplus/keys.py); read by /readyz. The reasons are fixed sentences: never a secret."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reasons: dict[str, str] = {}

    def report(self, source: str, reason: str) -> None:
        with self._lock:
            self._reasons[source] = reason

    def clear(self, source: str) -> None:
        with self._lock:
            self._reasons.pop(source, None)

    def first(self) -> str | None:
        with self._lock:
            return next(iter(self._reasons.values()), None)


IMPEDIMENTS = Impediments()


def unless_impeded(readiness: Callable[[], tuple[bool, str]]) -> Callable[[], tuple[bool, str]]:
    """`readiness`, but not ready while an impediment is reported, with the impediment as the reason."""
    def check() -> tuple[bool, str]:
        impediment = IMPEDIMENTS.first()
        return (False, impediment) if impediment else readiness()
    return check


class KafkaReadiness:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._admin: KafkaAdminClient | None = None
        self._result: Readiness | None = None
        self._result_at = 0.0
        self._probe: threading.Thread | None = None

    def check(self) -> Readiness:
        with self._lock:
            if self._result is not None and self._clock() - self._result_at < CACHE_SECONDS:
                return self._result
            if self._probe is None or not self._probe.is_alive():  # concurrent checks share one probe
                self._probe = threading.Thread(target=self._ask_broker, name="kafka-readiness", daemon=True)
                self._probe.start()
            probe = self._probe
        probe.join(ANSWER_WITHIN_SECONDS)
        with self._lock:
            if probe.is_alive():
                return Readiness(False, "no answer in time")
            return self._result

    def close(self) -> None:
        with self._lock:
            admin, self._admin = self._admin, None
        if admin is not None:
            _close_quietly(admin)

    def _ask_broker(self) -> None:
        try:
            if self._admin is None:
                self._admin = KafkaAdminClient(**self._settings.kafka_client_config(), client_id="cartbridge-readiness",
                                               request_timeout_ms=_BROKER_TIMEOUT_MS,
                                               bootstrap_timeout_ms=_BROKER_TIMEOUT_MS)
            brokers = self._admin.describe_cluster().get("brokers") or []
            result = Readiness(True, "ready") if brokers else Readiness(False, "no brokers")
        except Exception as error:  # anything at all means "not ready"; never a 500
            result = Readiness(False, category(describe(error)))
            admin, self._admin = self._admin, None
            if admin is not None:
                _close_quietly(admin)
        with self._lock:
            self._result, self._result_at = result, self._clock()


def _close_quietly(admin: KafkaAdminClient) -> None:
    try:
        admin.close()
    except Exception as error:  # a client that lost its broker may not close cleanly; it is dropped anyway
        log.debug("readiness admin client did not close cleanly: %r", error)
