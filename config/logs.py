"""One log format for every process: timestamp, level, process kind, message with key=value fields."""
from __future__ import annotations

import logging
import os


def configure_logging(level: str | None = None) -> None:
    root = logging.getLogger()
    if root.handlers:  # gunicorn or pytest already configured it
        return
    logging.basicConfig(
        level=(level or os.environ.get("LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python is chatty at INFO
