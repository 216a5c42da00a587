"""The token bucket keeps a rate over time (fake clock: no sleeping in tests)."""
from __future__ import annotations

from outbound.ratelimit import AdaptiveRate, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_is_free_then_calls_are_spaced_at_the_rate():
    time = FakeTime()
    bucket = TokenBucket(rate=2, burst=2, clock=time.clock, sleep=time.sleep)

    waits = [bucket.acquire() for _ in range(6)]

    assert waits[:2] == [0.0, 0.0]
    assert all(abs(w - 0.5) < 1e-9 for w in waits[2:])
    assert abs(time.now - 2.0) < 1e-9  # 6 calls at 2/s with a burst of 2 take 2 s


def test_idle_time_refills_up_to_the_burst_only():
    time = FakeTime()
    bucket = TokenBucket(rate=1, burst=3, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        bucket.acquire()
    time.now += 100

    assert [bucket.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_a_429_cuts_the_rate_once_per_burst_and_waits_out_retry_after():
    time = FakeTime()
    rate = AdaptiveRate(3.0, increase=0.1, clock=time.clock, sleep=time.sleep)
    rate.throttled(retry_after=1.0)
    rate.throttled(retry_after=1.0)  # the same burst: no second cut
    assert round(rate.rate, 2) == 2.4

    waited = rate.acquire()
    assert waited >= 1.0  # nothing goes out before Retry-After is over


def test_calm_seconds_add_the_rate_back_up_to_the_ceiling():
    time = FakeTime()
    rate = AdaptiveRate(3.0, increase=0.1, clock=time.clock, sleep=time.sleep)
    rate.throttled(None)
    time.now += 5
    rate.succeeded()
    assert round(rate.rate, 2) == 2.9  # 2.4 + 5 s x 0.1
    time.now += 100
    rate.succeeded()
    assert rate.rate == 3.0


def test_many_429s_never_stop_it_below_the_floor():
    time = FakeTime()
    rate = AdaptiveRate(3.0, floor=0.2, clock=time.clock, sleep=time.sleep)
    for _ in range(50):
        time.now += 1.5
        rate.throttled(None)
    assert rate.rate == 0.2
