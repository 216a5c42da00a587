"""`python -m poller` (Procfile `poller`): poll Infoplus for changed shipments and items, publish them."""
from __future__ import annotations

import logging
import signal

from config.connections import ConnectionRegistry, RegistryError
from config.logs import configure_logging
from config.settings import Settings
from events.cursors import CursorStore
from events.publisher import Publisher
from infoplus.client import InfoplusClient
from consumers.inventory_resync import resync_connection
from infoplus.switches import SwitchBoard
from metrics.poller import ObservedCursors, ObservedLeadership, PollerHeartbeat
from metrics.server import serve_if_configured
from poller.leadership import Leadership
from poller.poller import CURSOR_TOPIC, Poller
from poller.resyncs import ResyncOnSwitch
from schemas.connection import Connection


def build(settings: Settings) -> Poller:
    publisher = Publisher(settings)
    registry = ConnectionRegistry(settings.connections_file, settings.connections_reload_seconds)
    cursors = ObservedCursors(CursorStore(settings, CURSOR_TOPIC, publisher),  # cursor ages as metrics, per LOB
                              lobs=lambda: {connection.lob_id for connection in registry.all()})
    cursors.load()  # creates the one-partition topic the leadership election runs on
    infoplus = InfoplusClient.from_settings(settings)
    switches = SwitchBoard(registry, infoplus, settings.infoplus_switches_ttl_seconds)
    resyncs = ResyncOnSwitch(switches, cursors, lambda connection: _resync(settings, infoplus, connection))
    return Poller(settings=settings, registry=registry, infoplus=infoplus, publisher=publisher, cursors=cursors,
                  leadership=ObservedLeadership(Leadership(settings, CURSOR_TOPIC)),
                  tasks=[resyncs, PollerHeartbeat(cursors)])


def _resync(settings: Settings, infoplus: InfoplusClient, connection: Connection) -> bool:
    report = resync_connection(settings, infoplus, connection)
    logging.getLogger("poller.resyncs").info("%s", report.summary())
    return report.ok


def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    try:
        poller = build(settings)
    except RegistryError as error:
        raise SystemExit(f"cannot start: {error}") from None
    serve_if_configured(settings.metrics_port)

    def request_stop(signum: int, _frame) -> None:
        logging.getLogger("poller").info("%s received: stopping", signal.Signals(signum).name)
        poller.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    poller.run()


if __name__ == "__main__":
    main()
