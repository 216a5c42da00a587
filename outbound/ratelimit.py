"""A token bucket: at most `rate` calls per second on average, `burst` at once.

Infoplus allows about 3 requests/second per API user and 10 per site (reference/infoplus-api.md §1). A bucket
lives in one process; `AdaptiveRate` lets the processes sharing an API key find their shares of it by themselves.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting until there is one; returns how long it waited."""
        with self._lock:
            self._refill()
            wait = max(0.0, (1.0 - self._tokens) / self._rate)
            self._tokens -= 1.0  # may go negative: the next caller waits for it
        if wait:
            self._sleep(wait)
        return wait

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._refill()
            self._rate = rate

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now


class AdaptiveRate:
    """This process's share of a limit it shares with processes it cannot see (Infoplus: ~3 requests/s per API
    user, for every process using the key): additive increase, multiplicative decrease, as TCP shares a link.

    A 429 cuts the rate (`decrease`, at most once per `calm_seconds`, so one burst of 429s is one cut) and stops
    every call of this process until the server's Retry-After is over; each second without a 429 adds `increase`
    calls/s back, up to `ceiling`. Processes sharing a key so settle near the limit together, no coordinator needed.
    """

    def __init__(self, ceiling: float, *, floor: float = 0.2, increase: float = 0.01, decrease: float = 0.8,
                 calm_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ceiling, self.floor = ceiling, min(floor, ceiling)
        self._increase, self._decrease, self._calm = increase, decrease, calm_seconds
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self.rate = ceiling
        self._bucket = TokenBucket(ceiling, burst=1.0, clock=clock, sleep=sleep)
        self._grown_at = self._cut_at = clock() - calm_seconds
        self._paused_until = 0.0
        self.throttled_count = 0

    def acquire(self) -> float:
        """Wait out any Retry-After, then take a token at the current rate; returns the time waited."""
        with self._lock:
            pause = max(0.0, self._paused_until - self._clock())
        if pause:
            self._sleep(pause)
        return pause + self._bucket.acquire()

    def succeeded(self) -> None:
        with self._lock:
            now = self._clock()
            self._set(self.rate + self._increase * (now - self._grown_at))
            self._grown_at = now

    def throttled(self, retry_after: float | None) -> None:
        with self._lock:
            now = self._clock()
            self.throttled_count += 1
            if retry_after:
                self._paused_until = max(self._paused_until, now + retry_after)
            if now - self._cut_at >= self._calm:
                self._cut_at = self._grown_at = now
                self._set(self.rate * self._decrease)

    def _set(self, rate: float) -> None:
        self.rate = max(self.floor, min(self.ceiling, rate))
        self._bucket.set_rate(self.rate)
