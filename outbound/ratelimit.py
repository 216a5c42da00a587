"""A token bucket: at most `rate` calls per second on average, `burst` at once.

Infoplus allows about 3 requests/second per API user and 10 per site (reference/infoplus-api.md §1). A bucket
lives in one process; `AdaptiveRate` lets the processes sharing an API key find their shares of it by themselves.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable


class TokenBucket:
    """A bucket kept as the time its next token is due (the generic cell rate algorithm), so a turn can be booked
    ahead — "the first free turn at or after t" — and a caller choosing between buckets can look without taking."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._capacity = burst if burst is not None else max(1.0, rate)
        self._clock = clock
        self._sleep = sleep
        self._due = clock()  # when the bucket would be empty again if no call came: one more token per 1/rate
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting until there is one; returns how long it waited."""
        wait = self.reserve()
        if wait:
            self._sleep(wait)
        return wait

    def reserve(self, not_before: float = 0.0) -> float:
        """Book the first turn at or after `not_before` (a clock time) without waiting; returns the seconds from now
        until that turn. The caller waits them out."""
        with self._lock:
            now = self._clock()
            turn = self._first_turn(now, not_before)
            self._due = max(self._due, turn) + 1.0 / self._rate
            return turn - now

    def wait_time(self, not_before: float = 0.0) -> float:
        """Seconds from now until the first free turn at or after `not_before`; nothing is booked."""
        with self._lock:
            now = self._clock()
            return self._first_turn(now, not_before) - now

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._rate = rate

    def _first_turn(self, now: float, not_before: float) -> float:
        # `capacity - 1` tokens' worth of time may be spent ahead of `_due`: that is the burst.
        return max(now, not_before, self._due - (self._capacity - 1.0) / self._rate)


@dataclass(frozen=True)
class _Recovery:
    """A return to the rate before a 429 at the ceiling, a straight line from `low` at `starts` to `high` at `ends`."""
    low: float
    high: float
    starts: float
    ends: float

    def rate_at(self, now: float) -> float:
        share = min(1.0, max(0.0, (now - self.starts) / (self.ends - self.starts)))
        return self.low + (self.high - self.low) * share


class AdaptiveRate:
    """This process's share of a limit it shares with processes it cannot see (Infoplus: ~3 requests/s per API
    user, for every process using the key): additive increase, multiplicative decrease, as TCP shares a link —
    with TCP's fast recovery for a 429 that says nothing about the rate.

    Every 429 stops this process's calls until the server's Retry-After is over. Then:
    - a 429 at the ceiling after calm (none for `isolation_seconds` before it, nor was the process started then; the
      rate at `ceiling`, which the operator set a hair under the limit) is network jitter that put one call too many
      into the server's window: the rate dips by `decrease` and is back where it was `recovery_seconds` after the
      Retry-After (TCP's fast recovery, CUBIC's return to the last good rate without its probing beyond it: the
      ceiling is known). Jitter comes in clusters on a loaded machine: up to `soft_strikes` 429s each within
      `isolation_seconds` of the last are recovered so (the n-th over n x `recovery_seconds`);
    - any other 429 (more of them, or below the ceiling: someone else spends the key too) cuts the rate by `decrease`
      (at most once per `calm_seconds`, so one burst of 429s is one cut) and each second without a 429 adds
      `increase` calls/s back, up to `ceiling`. Processes sharing a key so settle near the limit together, no
      coordinator needed.
    """

    def __init__(self, ceiling: float, *, floor: float = 0.2, increase: float = 0.005, decrease: float = 0.8,
                 calm_seconds: float = 1.0, isolation_seconds: float = 5.0, recovery_seconds: float = 2.0,
                 probe_seconds: float = 30.0, soft_strikes: int = 2, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ceiling, self.floor = ceiling, min(floor, ceiling)
        self._increase, self._decrease, self._calm = increase, decrease, calm_seconds
        self._isolation, self._recovery_seconds, self._probe = isolation_seconds, recovery_seconds, probe_seconds
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self.rate = ceiling
        self._bucket = TokenBucket(ceiling, burst=1.0, clock=clock, sleep=sleep)
        # A 429 within `isolation_seconds` of the start is not isolated either (no calm seen yet): processes that
        # start together at the ceiling must find their shares at once.
        self._grown_at = self._calm_since = clock()
        self._cut_at = float("-inf")
        self._recovery: _Recovery | None = None
        self._target: float | None = None  # the rate a 429 at the ceiling is recovered to
        self._strikes, self._soft_strikes = 0, soft_strikes
        self._paused_until = 0.0
        self.throttled_count = 0

    def acquire(self) -> float:
        """Wait out any Retry-After, then take a turn at the current rate; returns the time waited."""
        wait = self.reserve()
        if wait:
            self._sleep(wait)
        return wait

    def reserve(self, not_before: float = 0.0) -> float:
        """Book this process's next turn (after any Retry-After, and not before the clock time `not_before`)
        without waiting; returns the seconds until it."""
        with self._lock:
            self._follow(self._clock())
            return self._bucket.reserve(not_before=max(not_before, self._paused_until))

    def wait_time(self) -> float:
        """Seconds until a turn would be free; nothing is booked."""
        with self._lock:
            return self._bucket.wait_time(not_before=self._paused_until)

    def succeeded(self) -> None:
        with self._lock:
            self._follow(self._clock())

    def throttled(self, retry_after: float | None) -> None:
        with self._lock:
            now = self._clock()
            self.throttled_count += 1
            if retry_after:
                self._paused_until = max(self._paused_until, now + retry_after)
            if now - self._cut_at >= self._calm:  # else the same burst of 429s: one cut is enough
                self._cut(now)

    def _cut(self, now: float) -> None:
        self._follow(now)
        if now - self._calm_since >= self._isolation:  # calm before it: was the rate at the ceiling?
            self._strikes = 0
            self._target = self.rate if self.rate >= 0.99 * self.ceiling else None
        self._cut_at = self._grown_at = self._calm_since = now
        self._set(self.rate * self._decrease)
        self._strikes += 1
        if self._target is not None and self._strikes <= self._soft_strikes:
            back_from = max(now, self._paused_until)
            self._recovery = _Recovery(self.rate, self._target, back_from,
                                       back_from + self._recovery_seconds * self._strikes)
        else:  # 429 after 429: the key is shared, or its limit is lower; additive increase from here
            self._target, self._recovery = None, None

    def _follow(self, now: float) -> None:
        """The rate at `now`: on its way back after a 429 at the ceiling, else grown by `increase` per calm second."""
        if self._recovery is not None:
            self._set(self._recovery.rate_at(now))
            if now >= self._recovery.ends:
                self._recovery = None
        elif self._cut_at > float("-inf"):  # never cut: still at the ceiling
            self._set(self.rate + self._grown_between(self._grown_at - self._cut_at, now - self._cut_at))
        self._grown_at = now

    def _grown_between(self, calm_from: float, calm_to: float) -> float:
        """Calls/s added from `calm_from` to `calm_to` seconds after the last cut: `increase` per second, times
        1 + (calm / probe_seconds)² — CUBIC's probing, slow near the rate the last 429 came at, faster the longer
        none comes (the processes that shared the key have gone), so a lone process is not a minute per 0.6/s."""
        cubed = (calm_to ** 3 - calm_from ** 3) / (3 * self._probe ** 2)
        return self._increase * (calm_to - calm_from + cubed)

    def _set(self, rate: float) -> None:
        self.rate = max(self.floor, min(self.ceiling, rate))
        self._bucket.set_rate(self.rate)
