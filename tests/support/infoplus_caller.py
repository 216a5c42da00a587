"""A process that spends the Infoplus budget as hard as it may for a while: `python -m tests.support.infoplus_caller
SECONDS [STARTED_FILE]`, configured from the environment like any cartbridge process (the shared-budget test runs
three). STARTED_FILE, if given, is created when it starts calling: on a loaded machine the imports alone take
seconds, so a test counting from the moment it spawned the process would count part of its start as steady state."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from config.settings import Settings
from infoplus.client import InfoplusClient
from outbound.errors import Retryable


def main() -> None:
    client = InfoplusClient.from_settings(Settings.from_env())
    deadline = time.monotonic() + float(sys.argv[1])
    if len(sys.argv) > 2:
        Path(sys.argv[2]).touch()
    while time.monotonic() < deadline:
        try:
            client.get_order(1)
        except Retryable:
            pass  # the client's own budget has already slowed down for it


if __name__ == "__main__":
    main()
