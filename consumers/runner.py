"""The thin part every consumer entry point shares: settings, logging, metrics, signal handling, run."""
from __future__ import annotations

import logging
import signal
from typing import Callable

from config.connections import RegistryError
from config.logs import configure_logging
from config.settings import Settings
from consumers.engine import ConsumerEngine
from metrics.consumer import ConsumerMetrics
from metrics.server import serve_if_configured

# A copy without partitions for this many session timeouts is not in a rebalance any more: it is idle.
NO_PARTITIONS_GRACE_SESSIONS = 3


def run_consumer(build: Callable[[Settings], ConsumerEngine]) -> None:
    configure_logging()
    settings = Settings.from_env()
    try:
        engine = build(settings)
    except RegistryError as error:
        raise SystemExit(f"cannot start: {error}") from None
    observer = ConsumerMetrics(settings.topic(f"cartbridge.{engine.kind}"), no_partitions_grace_seconds=(
        NO_PARTITIONS_GRACE_SESSIONS * settings.consumer_session_timeout_ms / 1000))
    engine.observer = observer
    server = serve_if_configured(settings.metrics_port, observer.readiness)

    def request_stop(signum: int, _frame) -> None:
        logging.getLogger("consumers").info("%s received: finishing the event in flight, then stopping",
                                            signal.Signals(signum).name)
        engine.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        engine.run()
    finally:
        if server is not None:
            server.stop()
