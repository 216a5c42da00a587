"""The thin part every consumer entry point shares: settings, logging, signal handling, run."""
from __future__ import annotations

import logging
import signal
from typing import Callable

from config.connections import RegistryError
from config.logs import configure_logging
from config.settings import Settings
from consumers.engine import ConsumerEngine


def run_consumer(build: Callable[[Settings], ConsumerEngine]) -> None:
    configure_logging()
    try:
        engine = build(Settings.from_env())
    except RegistryError as error:
        raise SystemExit(f"cannot start: {error}") from None

    def request_stop(signum: int, _frame) -> None:
        logging.getLogger("consumers").info("%s received: finishing the event in flight, then stopping",
                                            signal.Signals(signum).name)
        engine.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    engine.run()
