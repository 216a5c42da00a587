"""What this orders consumer process has already decided, per cart order (bounded, in memory).

Why in memory is enough here: the Kafka key is `<connection>:<cart order>`, so all events of one order are on
one partition and handled in order by one process; a process that has seen version V of an order can drop a
later-arriving older version. What must survive restarts and rebalances lives in Infoplus instead: the version
an order was created from (infoplus.orders.VERSION_DATA). So after a restart the only gap is an older snapshot
of an order that has *not* reached Infoplus, arriving right after a newer one was held back (unpaid or
cancelled) by the previous process — see README, "Orders: the rules".
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

OrderKey = tuple[int, str]  # (connection id, cart order id)
DEFAULT_CAPACITY = 100_000  # orders remembered; the least recently touched are forgotten first


@dataclass
class _Seen:
    newest: datetime
    reports: dict[str, str] = field(default_factory=dict)  # change fingerprint -> event id that reported it


class OrderMemory:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._orders: OrderedDict[OrderKey, _Seen] = OrderedDict()

    def newer_than(self, key: OrderKey, version: datetime) -> datetime | None:
        """The newest version already handled, when `version` is older than it (a stale event); else None."""
        seen = self._orders.get(key)
        return seen.newest if seen is not None and version < seen.newest else None

    def handled(self, key: OrderKey, version: datetime) -> None:
        seen = self._touch(key, version)
        seen.newest = max(seen.newest, version)

    def reported_by(self, key: OrderKey, fingerprint: str) -> str | None:
        """The event id that already sent this exact change to ops, if any."""
        seen = self._orders.get(key)
        return seen.reports.get(fingerprint) if seen is not None else None

    def reported(self, key: OrderKey, version: datetime, fingerprint: str, event_id: str) -> None:
        self._touch(key, version).reports[fingerprint] = event_id

    def _touch(self, key: OrderKey, version: datetime) -> _Seen:
        seen = self._orders.pop(key, None) or _Seen(version)
        self._orders[key] = seen
        if len(self._orders) > self._capacity:
            self._orders.popitem(last=False)
        return seen
