"""`cartbridge-status`: the ops console's consumers and poller pages, for a terminal.

Exit 0 when every group has a running copy and the poller led a cycle within 3 poll intervals, 1 otherwise, 2 when
Kafka cannot be read — so it can sit in a cron job or a health script too.
"""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from kafka.errors import KafkaError

from config.logs import configure_logging
from config.settings import Settings
from ops.cluster import CartHealth, Cluster, GroupReport, PollerReport


def render(groups: list[GroupReport], poller: PollerReport, out: TextIO, carts: list[CartHealth] = ()) -> None:
    for group in groups:
        print(f"{group.kind:<10} group {group.group} ({group.state}): {len(group.members)} copies, "
              f"{group.partition_count} partitions, lag {group.lag} — {group.hint}", file=out)
        for member in group.members:
            print(f"    {member.client_id} on {member.host}: {', '.join(member.partitions) or 'no partition'}", file=out)
        for p in group.partitions:
            committed = "-" if p.committed is None else p.committed
            print(f"    {p.topic}[{p.partition}] committed {committed} end {p.end} lag {p.lag}", file=out)
    status = poller.status
    last = (f"{status['last_cycle_at']} ({poller.last_cycle_age:.0f} s ago), "
            f"{status.get('infoplus_calls', '?')} Infoplus calls spent") if status.get("last_cycle_at") else "never"
    print(f"{'poller':<10} leader {poller.leader or 'none'} of {poller.members} copies; last cycle {last}", file=out)
    for name, since, age in poller.cursors:
        print(f"    cursor {name}: {since} ({'-' if age is None else f'{age:.0f} s'} old)", file=out)
    render_failing_carts(carts, out)


def render_failing_carts(carts: list[CartHealth], out: TextIO) -> None:
    """The connections whose cart fails, per flow: since when, the last error, events waiting, the next try."""
    failing = [cart for cart in carts if cart.failing]
    print(f"{'carts':<10} {len(failing)} failing" + (":" if failing else ""), file=out)
    for cart in failing:
        print(f"    connection {cart.connection_id} {cart.flow}: failing since {cart.since_text}, "
              f"{cart.waiting} events waiting, next try {cart.next_try_text}; last error: {cart.last_error}",
              file=out)


def healthy(groups: list[GroupReport], poller: PollerReport, poll_seconds: float) -> bool:
    fresh = poller.last_cycle_age is not None and poller.last_cycle_age < 3 * poll_seconds + 30
    return all(group.members for group in groups) and fresh


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="cartbridge-status", description=__doc__.split("\n\n")[0]).parse_args(argv)
    configure_logging()
    settings = Settings.from_env()
    cluster = Cluster(settings)
    try:
        groups, poller, carts = cluster.groups(), cluster.poller(), cluster.connection_health()
    except KafkaError as error:
        print(f"cannot read Kafka: {error.__class__.__name__}: {error}", file=sys.stderr)
        return 2
    finally:
        cluster.close()
    render(groups, poller, sys.stdout, carts)
    return 0 if healthy(groups, poller, settings.infoplus_poll_seconds) else 1


if __name__ == "__main__":
    raise SystemExit(main())
