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


def test_an_isolated_429_at_the_ceiling_costs_seconds_not_a_minute():
    time = FakeTime()
    rate = AdaptiveRate(3.0, increase=0.01, isolation_seconds=5.0, recovery_seconds=2.0, clock=time.clock,
                        sleep=time.sleep)
    time.now += 5  # calls have gone well for 5 s
    rate.throttled(retry_after=1.0)
    assert round(rate.rate, 2) == 2.4
    time.now += 1.0 + 1.0  # the Retry-After, then half the recovery
    rate.succeeded()
    assert round(rate.rate, 2) == 2.7
    time.now += 1.0
    rate.succeeded()
    assert rate.rate == 3.0  # back where it was 3 s after the 429 (additive increase alone: a minute)


def test_repeated_429s_cut_hard_and_calm_seconds_add_the_rate_back_slowly():
    time = FakeTime()
    rate = AdaptiveRate(3.0, increase=0.1, isolation_seconds=10.0, soft_strikes=2, clock=time.clock,
                        sleep=time.sleep)
    time.now += 10
    rate.throttled(None)  # after calm: back at 3.0 within 2 s
    time.now += 3
    rate.throttled(None)  # a second soon after (jitter comes in clusters): back at 3.0 within 4 s
    time.now += 4
    rate.succeeded()
    assert rate.rate == 3.0
    rate.throttled(None)  # a third within 10 s of the last: the key is shared, or the limit lower
    assert round(rate.rate, 2) == 2.4
    time.now += 5
    rate.succeeded()
    assert round(rate.rate, 2) == 2.9  # 2.4 + 5 s x 0.1
    time.now += 100
    rate.succeeded()
    assert rate.rate == 3.0


def test_a_429_below_the_ceiling_means_a_shared_key_and_is_not_undone():
    time = FakeTime()
    rate = AdaptiveRate(3.0, increase=0.01, isolation_seconds=10.0, soft_strikes=1, clock=time.clock,
                        sleep=time.sleep)
    time.now += 10
    rate.throttled(None)
    time.now += 5
    rate.throttled(None)  # 2.4
    time.now += 30  # long after: isolated in time, but the rate (2.7) is below the ceiling
    rate.throttled(None)
    assert round(rate.rate, 2) == 2.24  # 0.8 x (2.4 + 0.01 x (30 s + 30³ / (3 x 30²)))
    time.now += 3
    rate.succeeded()
    assert round(rate.rate, 2) == 2.27


def test_a_process_left_alone_climbs_back_faster_the_longer_no_429_comes():
    time = FakeTime()
    rate = AdaptiveRate(2.9, increase=0.005, probe_seconds=30.0, clock=time.clock, sleep=time.sleep)
    while rate.rate > 1.0:  # three processes shared the key: this one's share was about 1/s
        time.now += 1.5
        rate.throttled(None)
    time.now += 30
    rate.succeeded()
    assert rate.rate < 1.25  # near the rate the last 429 came at, it grows slowly
    time.now += 60
    rate.succeeded()
    assert rate.rate > 2.6  # the others have gone: back near the ceiling in 90 s (0.005/s alone: 6 minutes)


def test_a_turn_booked_ahead_is_spaced_from_the_turns_after_it():
    time = FakeTime()
    bucket = TokenBucket(rate=2, burst=1, clock=time.clock, sleep=time.sleep)
    assert bucket.wait_time(not_before=1.5) == 1.5  # only looking: nothing booked
    assert bucket.reserve(not_before=1.5) == 1.5
    assert bucket.reserve() == 2.0  # half a second after the booked turn, not now


def test_429s_right_after_start_are_not_isolated_processes_starting_together_find_their_shares_at_once():
    time = FakeTime()
    rate = AdaptiveRate(3.0, isolation_seconds=5.0, clock=time.clock, sleep=time.sleep)
    time.now += 1
    rate.throttled(None)
    time.now += 4
    rate.succeeded()
    assert rate.rate < 2.5


def test_many_429s_never_stop_it_below_the_floor():
    time = FakeTime()
    rate = AdaptiveRate(3.0, floor=0.2, clock=time.clock, sleep=time.sleep)
    for _ in range(50):
        time.now += 1.5
        rate.throttled(None)
    assert rate.rate == 0.2
