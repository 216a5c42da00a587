"""One Infoplus budget per API key across processes: three processes sharing a key against a stand-in that allows
3 requests/s find their shares by themselves (AIMD) — together near the limit, with few 429s."""
from __future__ import annotations

import subprocess
import sys

from tests.support.kafka import ROOT

SECONDS = 26.0
# The first seconds of calls: three processes starting at the full limit each, finding their shares. Counted from
# the first call, not from the start of the processes: on a loaded machine Python takes seconds to start.
SETTLE = 10.0
LIMIT = 3


def test_three_processes_sharing_a_key_settle_near_the_limit_with_few_429s(world):
    world.infoplus.rate_limit(LIMIT)
    env = {**world.environ(), "INFOPLUS_CALLS_PER_SECOND": "3"}  # each would take the whole limit alone
    callers = [subprocess.Popen([sys.executable, "-m", "tests.support.infoplus_caller", str(SECONDS)], cwd=ROOT,
                                env=env) for _ in range(3)]
    for caller in callers:
        assert caller.wait(timeout=SECONDS + 60) == 0

    traffic = world.infoplus.traffic
    start, end = traffic[0][0] + SETTLE, traffic[-1][0] - 1  # the callers end within about a second of each other
    statuses = [status for at, _, status in traffic if start <= at < end]
    refused = statuses.count(429)
    answered = len(statuses) - refused
    share = answered / ((end - start) * LIMIT)
    print(f"steady state over {end - start:.1f} s: {answered} answered ({share:.0%} of the limit), {refused} 429s "
          f"({refused / len(statuses):.0%} of calls); whole run: {world.infoplus.throttled} 429s")
    assert share >= 0.75
    assert refused / len(statuses) <= 0.10
