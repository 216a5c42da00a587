"""The Infoplus API keys of one process and the budget they share.

Infoplus limits each API user (~3 requests/s) and each site (~10/s). A site may give cartbridge several API users
(INFOPLUS_API_KEYS): each key has its own `AdaptiveRate` up to INFOPLUS_CALLS_PER_SECOND, every call takes the key
whose next turn comes first (the least recently used among those ready), and one `TokenBucket` at
INFOPLUS_SITE_CALLS_PER_SECOND caps the sum. A key Infoplus refuses (401/403) is set aside — one log line, a
metric — and offered one call again every `retry_refused_seconds`, so a key put right comes back by itself.
With no key left a call fails Retryable (its event waits) and the process's /readyz says why.

Keys are named by their position (1 = the first of INFOPLUS_API_KEY, then INFOPLUS_API_KEYS), never by value.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from events.readiness import IMPEDIMENTS
from metrics.outbound import observe_infoplus_budget, observe_infoplus_key_refused, observe_infoplus_throttled
from outbound.errors import Retryable
from outbound.ratelimit import AdaptiveRate, TokenBucket

log = logging.getLogger(__name__)

RETRY_REFUSED_SECONDS = 30.0
NO_KEY_LEFT = "every Infoplus API key was refused (401/403): check INFOPLUS_API_KEY(S) and the API users"


@dataclass(eq=False)
class ApiKey:
    position: int
    value: str = field(repr=False)
    budget: AdaptiveRate
    refused_at: float | None = None  # set aside since then
    used_at: float = float("-inf")

    @property
    def label(self) -> str:
        return str(self.position)


class InfoplusKeys:
    def __init__(self, keys: Sequence[str], *, calls_per_second: float, site_calls_per_second: float,
                 increase: float = 0.005, retry_refused_seconds: float = RETRY_REFUSED_SECONDS,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if not keys:
            raise ValueError("at least one Infoplus API key")
        self._keys = [ApiKey(position, key, AdaptiveRate(calls_per_second, increase=increase, clock=clock,
                                                         sleep=sleep))
                      for position, key in enumerate(keys, start=1)]
        self._site = TokenBucket(site_calls_per_second, burst=1.0, clock=clock, sleep=sleep)
        self._retry_refused = retry_refused_seconds
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        for key in self._keys:
            observe_infoplus_key_refused(key.label, False)
            observe_infoplus_budget(key.label, key.budget.rate)

    @property
    def keys(self) -> list[ApiKey]:
        return list(self._keys)

    def take(self) -> ApiKey:
        """Wait for the first free turn on any usable key that the site's ceiling allows; that key makes the call."""
        with self._lock:
            now = self._clock()
            key = self._next_key(now)
            turn = now + max(key.budget.wait_time(), self._site.wait_time())
            wait = max(key.budget.reserve(not_before=turn), self._site.reserve(not_before=turn))
            key.used_at = turn
        if wait > 0:
            self._sleep(wait)
        return key

    def _next_key(self, now: float) -> ApiKey:
        usable = [key for key in self._keys
                  if key.refused_at is None or now - key.refused_at >= self._retry_refused]
        if not usable:
            raise Retryable(f"no Infoplus API key left: {NO_KEY_LEFT}", status=401)
        return min(usable, key=lambda key: (round(key.budget.wait_time(), 3), key.used_at))

    def succeeded(self, key: ApiKey) -> None:
        key.budget.succeeded()
        observe_infoplus_budget(key.label, key.budget.rate)
        if key.refused_at is not None:
            with self._lock:
                key.refused_at = None
            log.warning("Infoplus API key %d of %d is accepted again: back in use", key.position, len(self._keys))
            observe_infoplus_key_refused(key.label, False)
            IMPEDIMENTS.clear("infoplus")

    def throttled(self, key: ApiKey, retry_after: float | None) -> None:
        key.budget.throttled(retry_after)
        observe_infoplus_throttled(key.label)
        observe_infoplus_budget(key.label, key.budget.rate)

    def refused(self, key: ApiKey, status: int) -> None:
        """Infoplus answered 401/403 to this key: set it aside (logged once, until it is accepted again)."""
        with self._lock:
            first_time = key.refused_at is None
            key.refused_at = self._clock()
            left = sum(1 for other in self._keys if other.refused_at is None)
        if not first_time:
            return
        log.error("Infoplus refused API key %d of %d (HTTP %d): set aside, %d left; it is tried again every %.0f s",
                  key.position, len(self._keys), status, left, self._retry_refused)
        observe_infoplus_key_refused(key.label, True)
        if left == 0:
            IMPEDIMENTS.report("infoplus", NO_KEY_LEFT)
