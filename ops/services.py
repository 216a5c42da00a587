"""What the console's views need, attached by the factory (never built at import time)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from flask import current_app

from config.connections import ConnectionRegistry
from config.settings import Settings
from events.publisher import Publisher
from ops.cluster import Cluster
from schemas.connection import Connection

log = logging.getLogger(__name__)

SwitchReader = Callable[[Connection], tuple[Connection, str]]  # -> (switches in force, where they come from)


@dataclass
class OpsServices:
    settings: Settings
    registry: ConnectionRegistry
    switches: SwitchReader
    cluster: Cluster
    publisher: Publisher


def services() -> OpsServices:
    return current_app.extensions["cartbridge_ops"]


def switch_reader(settings: Settings, registry: ConnectionRegistry) -> SwitchReader:
    """Switches as the consumers see them: the file's, or Infoplus's for `switches_from: infoplus` (same cache
    rules, through SwitchBoard); without Infoplus settings here those are shown as not readable."""
    board = None
    if settings.infoplus_base_url and settings.infoplus_keys:
        from infoplus.client import InfoplusClient
        from infoplus.switches import SwitchBoard
        board = SwitchBoard(registry, InfoplusClient.from_settings(settings), settings.infoplus_switches_ttl_seconds)

    def read(connection: Connection) -> tuple[Connection, str]:
        if connection.switches_from != "infoplus":
            return connection, "file"
        if board is None:
            return connection, "Infoplus (not readable here: INFOPLUS_BASE_URL / INFOPLUS_API_KEY unset)"
        try:
            return board.resolve(connection), "Infoplus"
        except Exception as error:  # the page still shows the rest
            log.warning("switches of connection %s not readable from Infoplus: %s", connection.id, error)
            return connection, f"Infoplus (not readable now: {error.__class__.__name__})"

    return read
