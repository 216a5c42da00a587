"""One Infoplus budget per API key across processes: three processes sharing a key against a stand-in that allows
3 requests/s find their shares by themselves (AIMD) — together near the limit, with few 429s."""
from __future__ import annotations

import subprocess
import sys
import time

from tests.support.kafka import ROOT
from tests.support.world import eventually

SECONDS = 24.0
SETTLE = 8.0  # the first seconds: three processes starting at the full limit each, finding their shares
LIMIT = 3


def test_three_processes_sharing_a_key_settle_near_the_limit_with_few_429s(world):
    world.infoplus.rate_limit(LIMIT)
    env = {**world.environ(), "INFOPLUS_CALLS_PER_SECOND": "3"}  # each would take the whole limit alone
    started_files = [world.tmp_path / f"caller-{n}.started" for n in range(3)]
    callers = [subprocess.Popen([sys.executable, "-m", "tests.support.infoplus_caller", str(SECONDS), str(started)],
                                cwd=ROOT, env=env) for started in started_files]
    # SETTLE counts from when all three call, not from the spawn: starting takes seconds on a loaded machine.
    eventually(lambda: all(started.exists() for started in started_files), 60, message="three callers calling")
    time.sleep(SETTLE)
    calls_before, refused_before = len(world.infoplus.calls), world.infoplus.throttled
    started = time.monotonic()
    for caller in callers:
        assert caller.wait(timeout=SECONDS + 30) == 0
    steady = time.monotonic() - started - 1  # the callers end within about a second of each other

    calls = world.infoplus.calls[calls_before:]
    refused = world.infoplus.throttled - refused_before
    answered = len(calls) - refused
    share = answered / (steady * LIMIT)
    print(f"steady state over {steady:.1f} s: {answered} answered ({share:.0%} of the limit), {refused} 429s "
          f"({refused / len(calls):.0%} of calls); whole run: {world.infoplus.throttled} 429s")
    assert share >= 0.75
    assert refused / len(calls) <= 0.15
