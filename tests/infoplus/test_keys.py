"""Several Infoplus API keys sharing one process's budget (infoplus/keys.py), on a fake clock: calls spread over the
keys, the site's ceiling caps their sum, a refused key is set aside (one log line, a metric, no key in either) and
with none left calls fail Retryable while /readyz says why."""
from __future__ import annotations

import logging
from collections import Counter

import pytest
from prometheus_client import REGISTRY

from events.readiness import IMPEDIMENTS, unless_impeded
from infoplus.keys import InfoplusKeys
from outbound.errors import Retryable

KEYS = ["key-one-secret", "key-two-secret", "key-three-secret"]


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def no_impediment_left_behind():
    yield
    IMPEDIMENTS.clear("infoplus")


def keys(time: FakeTime, per_key: float, site: float, **kwargs) -> InfoplusKeys:
    return InfoplusKeys(KEYS, calls_per_second=per_key, site_calls_per_second=site, clock=time.clock,
                        sleep=time.sleep, **kwargs)


def spend(pool: InfoplusKeys, calls: int) -> Counter:
    used = Counter()
    for _ in range(calls):
        key = pool.take()
        pool.succeeded(key)
        used[key.value] += 1
    return used


def test_calls_take_turns_over_the_keys_each_at_its_own_budget():
    time = FakeTime()
    pool = keys(time, per_key=3.0, site=9.7)
    started = time.now

    used = spend(pool, 90)

    assert used == {key: 30 for key in KEYS}
    # 9/s: three keys at 3/s (under the site's 9.7), the third starting two site turns after the first
    assert time.now - started == pytest.approx(2 / 9.7 + 29 / 3.0, abs=0.01)


def test_the_site_ceiling_caps_the_sum_of_the_keys():
    time = FakeTime()
    pool = keys(time, per_key=5.0, site=9.7)
    started = time.now

    used = spend(pool, 98)

    assert time.now - started == pytest.approx(97 / 9.7, abs=0.01)  # not 15/s
    assert max(used.values()) - min(used.values()) <= 1


def test_a_refused_key_is_set_aside_with_one_log_line_naming_its_position_only(caplog):
    time = FakeTime()
    pool = keys(time, per_key=3.0, site=9.7, retry_refused_seconds=60)
    second = pool.keys[1]
    with caplog.at_level(logging.INFO, logger="infoplus.keys"):
        pool.refused(second, 401)
        pool.refused(second, 401)  # a call already under way with it: no second line

        used = spend(pool, 20)

    assert set(used) == {KEYS[0], KEYS[2]}
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["Infoplus refused API key 2 of 3 (HTTP 401): set aside, 2 left; it is tried again every 60 s"]
    assert not any(key in line for key in KEYS for line in lines)
    assert REGISTRY.get_sample_value("cartbridge_infoplus_api_key_refused", {"key": "2"}) == 1
    assert unless_impeded(lambda: (True, "ready"))() == (True, "ready")  # two keys carry on

    time.now += 60  # the key is offered one call again; accepted, it is back
    assert spend(pool, 3)[KEYS[1]] == 1
    assert REGISTRY.get_sample_value("cartbridge_infoplus_api_key_refused", {"key": "2"}) == 0


def test_with_every_key_refused_calls_fail_retryable_and_readiness_says_why():
    time = FakeTime()
    pool = keys(time, per_key=3.0, site=9.7, retry_refused_seconds=60)
    for key in pool.keys:
        pool.refused(key, 403)

    with pytest.raises(Retryable) as refused:
        pool.take()

    assert "no Infoplus API key left" in str(refused.value)
    ready, why = unless_impeded(lambda: (True, "ready"))()
    assert not ready and "every Infoplus API key was refused" in why
    time.now += 60
    pool.succeeded(pool.take())  # one is accepted again: ready again
    assert unless_impeded(lambda: (True, "ready"))() == (True, "ready")
