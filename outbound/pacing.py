"""Spending a cart's rate limit on purpose: a session that spaces its requests evenly."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import requests

from outbound.http import new_session
from outbound.ratelimit import TokenBucket


class PacedSession(requests.Session):
    """A pooled session that starts at most `per_second` requests per second, evenly spaced.

    For batch jobs (an inventory resync) that would otherwise spend the cart's whole quota — a quota other apps
    on the same store share. It blocks the caller, so it is for commands, never for a consumer loop.
    """

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.headers.update(new_session().headers)
        # A bucket that holds one token is an even spacing: no burst.
        self._pace = TokenBucket(per_second, burst=1, clock=clock, sleep=sleep)
        self._count_lock = threading.Lock()
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self._wait_for_turn()
        return super().request(*args, **kwargs)

    def _wait_for_turn(self) -> None:
        self._pace.acquire()
        with self._count_lock:
            self.calls += 1
