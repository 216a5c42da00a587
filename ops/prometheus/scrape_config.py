"""Write a prometheus.yml that scrapes cartbridge's processes and loads its alert rules.

    python ops/prometheus/scrape_config.py --rules ops/prometheus/alerts.yml web=127.0.0.1:8000 orders=127.0.0.1:8100

Each PROCESS=HOST:PORT becomes a target of the job `cartbridge-PROCESS` (a process named twice: two copies, one job),
the names alerts.yml expects. bin/dev (PROMETHEUS=1) and tests/ops/test_prometheus.py use it; in production, copy
what it prints and put your service discovery in place of the static targets.
A plain script, not a module of the `ops` package: it needs nothing of cartbridge and starts in milliseconds.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

JOB_PREFIX = "cartbridge-"


def scrape_config(targets: list[tuple[str, str]], rules: list[str], interval: str = "15s") -> dict:
    """`targets`: (process, host:port) pairs, in order; the config as a dict (JSON is valid YAML)."""
    jobs: dict[str, list[str]] = {}
    for process, address in targets:
        jobs.setdefault(JOB_PREFIX + process, []).append(address)
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   # a scrape must never take longer than the interval it runs in
                   "scrape_timeout": interval},
        "rule_files": [str(Path(rule).resolve()) for rule in rules],
        "scrape_configs": [{"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": addresses}]}
                           for job, addresses in jobs.items()],
    }


def _target(argument: str) -> tuple[str, str]:
    process, sep, address = argument.partition("=")
    if not sep or not process or ":" not in address:
        raise argparse.ArgumentTypeError(f"expected PROCESS=HOST:PORT, got {argument!r}")
    return process, address


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+", type=_target, metavar="PROCESS=HOST:PORT")
    parser.add_argument("--rules", action="append", default=[], help="a rule file to load (repeatable)")
    parser.add_argument("--interval", default="15s", help="scrape and rule evaluation interval (default 15s)")
    args = parser.parse_args(argv)
    json.dump(scrape_config(args.targets, args.rules, args.interval), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
