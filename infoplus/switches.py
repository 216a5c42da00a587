"""The sync switches of connections that keep them in Infoplus (`switches_from: infoplus` in the registry).

Ops flip Sync Orders / Sync Inventory / Sync Tracking Data on the Infoplus ShoppingCartConnection record;
consumers read them through `SwitchBoard`, which answers like the registry but with those three fields taken from
`GET shoppingCartConnection/{id}` (or, with several such connections, one paged listing of them all), cached for
`ttl_seconds`. When Infoplus cannot be reached, the last known values hold (and that is logged); switches never
default to "on" — if they were never read, the event waits (Retryable) rather than guessing.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Callable

from config.connections import ConnectionRegistry
from config.settings import Settings
from infoplus.client import SEARCH_PAGE_LIMIT, InfoplusClient
from outbound.errors import OutboundError, Permanent, Retryable
from schemas.connection import PREVIEWABLE, Connection

log = logging.getLogger(__name__)

INFOPLUS_FIELDS = {"sync_orders": "syncOrders", "sync_inventory": "syncInventory",
                   "sync_tracking_data": "syncTrackingData"}


class SwitchBoard:
    def __init__(self, registry: ConnectionRegistry, infoplus: InfoplusClient, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._registry = registry
        self._infoplus = infoplus
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[int, tuple[float, dict[str, bool]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, infoplus: InfoplusClient) -> "SwitchBoard":
        """The connections file (reloaded as it changes), with the switches of `switches_from: infoplus`
        connections read from Infoplus and cached `INFOPLUS_SWITCHES_TTL_SECONDS`."""
        registry = ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds)
        return cls(registry, infoplus, settings.infoplus_switches_ttl_seconds)

    @property
    def registry(self) -> ConnectionRegistry:
        """The connections file alone (no Infoplus call): for what the switches do not change."""
        return self._registry

    # The registry's read interface, with switches resolved.
    def get(self, connection_id: int | str | None) -> Connection | None:
        connection = self._registry.get(connection_id)
        return self.resolve(connection) if connection else None

    def for_lob(self, lob_id: int) -> list[Connection]:
        return [self.resolve(c) for c in self._registry.for_lob(lob_id)]

    def all(self) -> list[Connection]:
        return [self.resolve(c) for c in self._registry.all()]

    def resolve(self, connection: Connection) -> Connection:
        if connection.switches_from != "infoplus":
            return connection
        return held_back(connection, self._switches(connection.id))

    def _switches(self, connection_id: int) -> dict[str, bool]:
        with self._lock:
            cached = self._cache.get(connection_id)
            if cached and self._clock() - cached[0] < self._ttl:
                return cached[1]
            try:
                values = self._fetch(connection_id)
            except OutboundError as error:
                return self._last_known(connection_id, cached, error)
            self._cache[connection_id] = (self._clock(), values)
            return values

    def _fetch(self, connection_id: int) -> dict[str, bool]:
        """One GET while this is the only connection reading its switches from Infoplus; with more, every record
        comes from one paged listing (`shoppingCartConnection/search`, 250 a page) cached for all of them, so the
        calls per TTL stay flat as merchants are added (300 connections: 2 calls, not 300)."""
        if sum(c.switches_from == "infoplus" for c in self._registry.all()) < 2:
            record = self._infoplus.get_shopping_cart_connection(connection_id)
            if record is None:
                raise Permanent(f"Infoplus has no ShoppingCartConnection {connection_id}", status=404)
            return _switch_values(record)
        listed = self._list_all()
        now = self._clock()
        self._cache.update({other: (now, values) for other, values in listed.items() if other != connection_id})
        if connection_id not in listed:
            raise Permanent(f"Infoplus has no ShoppingCartConnection {connection_id}", status=404)
        return listed[connection_id]

    def _list_all(self) -> dict[int, dict[str, bool]]:
        listed: dict[int, dict[str, bool]] = {}
        page = 1
        while True:
            rows = self._infoplus.search("shoppingCartConnection", "id gt 0", page=page, sort="id")
            listed.update({int(row["id"]): _switch_values(row) for row in rows if isinstance(row, dict)
                           and str(row.get("id", "")).isdigit()})
            if len(rows) < SEARCH_PAGE_LIMIT:
                return listed
            page += 1

    def _last_known(self, connection_id: int, cached: tuple | None, error: OutboundError) -> dict[str, bool]:
        if cached is None and isinstance(error, Permanent):
            raise error  # a misconfigured id: dead-letter, waiting cannot fix it
        if cached is None:
            raise Retryable(f"switches of connection {connection_id} not known yet: {error.reason}") from error
        log.warning("switches of connection %s: Infoplus unreachable (%s); last known values hold: %s",
                    connection_id, error.reason, cached[1])
        self._cache[connection_id] = (self._clock(), cached[1])  # hold them a TTL more before asking again
        return cached[1]


def _switch_values(record: dict) -> dict[str, bool]:
    return {name: record.get(field) is True for name, field in INFOPLUS_FIELDS.items()}


def held_back(connection: Connection, switches: dict[str, bool]) -> Connection:
    """The connection with Infoplus's switches, where the file's `preview` holds an on switch back: that flow
    reads as off and stays in preview. A switch Infoplus has off is off, preview or not (nothing is read)."""
    values = dict(switches)
    previews = set()
    for switch, flow in PREVIEWABLE.items():
        if connection.previewing(flow) and values.get(switch):
            values[switch] = False
            previews.add(flow)
    return dataclasses.replace(connection, **values, previews=frozenset(previews))
