"""A process that spends the Infoplus budget as hard as it may for a while: `python -m tests.support.infoplus_caller
SECONDS`, configured from the environment like any cartbridge process (the shared-budget test runs three)."""
from __future__ import annotations

import sys
import time

from config.settings import Settings
from infoplus.client import InfoplusClient
from outbound.errors import Retryable


def main() -> None:
    client = InfoplusClient.from_settings(Settings.from_env())
    deadline = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < deadline:
        try:
            client.get_order(1)
        except Retryable:
            pass  # the client's own budget has already slowed down for it


if __name__ == "__main__":
    main()
