"""The Infoplus stand-in's limits, which the budget tests lean on: per API key and per site, in a sliding second or
in the clock's fixed seconds, 429 + Retry-After; keys added and revoked (401)."""
from __future__ import annotations

import math
import time

import requests

from sandbox.infoplus import InfoplusStandIn


def get(standin: InfoplusStandIn, key: str) -> int:
    return requests.get(standin.url("order/search"), headers={"API-Key": key}, timeout=5).status_code


def test_each_key_has_its_own_limit_and_the_site_one_for_all(infoplus):
    infoplus.add_api_key("second")
    infoplus.add_api_key("third")
    infoplus.rate_limit(2)
    infoplus.site_rate_limit(5)

    first = [get(infoplus, infoplus.api_key) for _ in range(3)]
    second = [get(infoplus, "second") for _ in range(3)]
    third = [get(infoplus, "third") for _ in range(2)]

    assert first == [200, 200, 429] and second == [200, 200, 429]
    assert third == [200, 429]  # its own limit is not reached: the site's is (5 let through)
    assert [(key, status) for _, key, status in infoplus.traffic][-2:] == [("third", 200), ("third", 429)]


def test_a_fixed_window_counts_the_seconds_of_the_clock(infoplus):
    infoplus.rate_limit(2, window="fixed")
    while time.monotonic() % 1 > 0.5:  # start in the first half of a second of the clock
        time.sleep(0.05)
    second = math.floor(time.monotonic())

    assert [get(infoplus, infoplus.api_key) for _ in range(3)] == [200, 200, 429]
    while math.floor(time.monotonic()) == second:
        time.sleep(0.05)
    assert get(infoplus, infoplus.api_key) == 200  # a new second: a sliding window would still be full


def test_a_revoked_key_is_answered_401(infoplus):
    infoplus.add_api_key("second")
    assert get(infoplus, "second") == 200
    infoplus.revoke_api_key("second")
    assert get(infoplus, "second") == 401
    assert get(infoplus, infoplus.api_key) == 200
