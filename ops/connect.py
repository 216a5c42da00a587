"""`cartbridge-connect <connection id>`: connect a store in one command (docs/connect.md).

    cartbridge-connect 103 --base-url https://cartbridge.example.com
        registers the webhooks the connection's switches need (Shopify, WooCommerce, BigCommerce; Magento is polled),
        pointing at <base-url>/webhooks/carts/103, and checks everything it can read: the cart's credentials and
        scopes, the location, the Infoplus LOB, warehouse, order source and carrier. Prints a checklist, a line each,
        ✓ or ✗ with the fix (`-`: cannot be told by reading). Re-running it changes nothing.
    --dry-run   say what would be registered, change nothing
    --fix       point a subscription that delivers elsewhere (or is inactive) here; delete ones not needed
    --remove    delete the subscriptions that deliver to this connection

The base URL may come from `CARTBRIDGE_PUBLIC_URL` instead. Exit 0 when every line is ✓ (or `-`), 1 when one is
✗, 2 for bad arguments. The ops console's Connections page runs the same (ops/connect_page.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Callable

from carts import platform_for
from carts.onboarding import Check, Mode, failed, passed, reconcile, webhook_address
from config.connections import ConnectionRegistry, RegistryError
from config.settings import Settings
from infoplus.client import InfoplusClient
from infoplus.onboarding import infoplus_checks
from infoplus.switches import SwitchBoard
from outbound.errors import OutboundError
from schemas.connection import Connection

log = logging.getLogger(__name__)


@dataclass
class Report:
    """The checklist, section by section."""

    connection: Connection
    sections: list[tuple[str, list[Check]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for _, checks in self.sections for check in checks)

    def lines(self) -> list[str]:
        out = [f"connection {self.connection.id} {self.connection.name!r} ({self.connection.platform})"]
        for title, checks in self.sections:
            out.append(f"{title}:")
            for check in checks:
                text = f"  {check.mark} {check.label}" + (f": {check.detail}" if check.detail else "")
                out.append(text + (f"\n      fix: {check.fix}" if check.fix else ""))
        out.append("all set" if self.ok else "something needs fixing: see the ✗ lines")
        return out


def connect(connection: Connection, settings: Settings, base_url: str | None, mode: Mode) -> Report:
    """Register and check one connection; every refusal or outage becomes a ✗ line, never an exception."""
    infoplus = InfoplusClient.from_settings(settings) if settings.infoplus_base_url else None
    in_force = _switches_in_force(connection, settings, infoplus)
    report = Report(connection)
    report.sections.append(("switches", [_switches_line(connection, in_force)]))
    platform = platform_for(connection.platform)
    onboarding = platform.onboarding(in_force, timeout=settings.http_timeout) if platform.onboarding else None
    if onboarding is None:
        report.sections.append(("cart", [failed("platform", f"{connection.platform} has no onboarding", "")]))
    else:
        report.sections.append(("cart", _guarded("store reachable", onboarding.checks)))
        report.sections.append(("webhooks", _webhooks(onboarding, connection, base_url, mode)))
    if infoplus is None:
        report.sections.append(("infoplus", [failed("Infoplus", "INFOPLUS_BASE_URL is not set", "set it")]))
    else:
        report.sections.append(("infoplus", infoplus_checks(connection, infoplus)))
    return report


def _switches_in_force(connection: Connection, settings: Settings, infoplus: InfoplusClient | None) -> Connection:
    if connection.switches_from != "infoplus" or infoplus is None:
        return connection
    board = SwitchBoard(ConnectionRegistry(settings.connections_file), infoplus, 0.0)
    try:
        return board.resolve(connection)
    except OutboundError:  # the Infoplus section says why; check as the file says meanwhile
        return connection


def _switches_line(connection: Connection, in_force: Connection) -> Check:
    where = "Infoplus's Shopping Cart Connection" if connection.switches_from == "infoplus" else "the connection file"
    states = [f"{label} {_switch_word(in_force, flow)}" for flow, label in
              (("sync_orders", "Sync Orders"), ("sync_inventory", "Sync Inventory"),
               ("sync_tracking_data", "Sync Tracking Data"))]
    return passed("switches", f"{', '.join(states)} (from {where})")


def _switch_word(connection: Connection, switch: str) -> str:
    if switch == "sync_inventory" and connection.previewing("inventory"):
        return "preview"
    if switch == "sync_tracking_data" and connection.previewing("tracking"):
        return "preview"
    return "on" if getattr(connection, switch) else "off"


def _webhooks(onboarding, connection: Connection, base_url: str | None, mode: Mode) -> list[Check]:
    if not onboarding.topics() and not mode.remove:
        return [passed("webhooks", "none needed (orders are polled, or Sync Orders is off)")]
    if not base_url:
        return [failed("webhooks", "no public URL to point them at", "give --base-url or set CARTBRIDGE_PUBLIC_URL")]
    address = webhook_address(base_url, connection.id)
    return _guarded("webhooks", lambda: reconcile(onboarding, address, mode))


def _guarded(label: str, run: Callable[[], list[Check]]) -> list[Check]:
    """A refused token or an unreachable store is one ✗ line with the reason (never a traceback, never a header)."""
    try:
        return run()
    except OutboundError as error:
        log.info("connect: %s: %s", label, error.reason)
        return [failed(label, _refusal(error), _fix_for(error))]


def _refusal(error: OutboundError) -> str:
    if error.status in (401, 403):
        return f"the credentials were refused ({error.status})"
    messages = [e["message"] for e in error.body if isinstance(e, dict) and isinstance(e.get("message"), str)] \
        if isinstance(error.body, list) else []  # GraphQL errors: what the cart said, not only that it refused
    return error.reason + (f": {'; '.join(messages)[:300]}" if messages else "")


def _fix_for(error: OutboundError) -> str:
    if error.status in (401, 403):
        return "check the connection's token / keys and the scopes the app was granted"
    if error.status is None:
        return "check store_url (or api_base_url) and that the store is up"
    return "see the cart's answer above"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cartbridge-connect", description=__doc__.split("\n\n")[0])
    parser.add_argument("connection", help="the connection id")
    parser.add_argument("--base-url", default=os.environ.get("CARTBRIDGE_PUBLIC_URL"),
                        help="where carts reach the web process (default: $CARTBRIDGE_PUBLIC_URL)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--fix", action="store_true", help="point stray subscriptions here, delete unneeded ones")
    what.add_argument("--remove", action="store_true", help="delete this connection's subscriptions")
    parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        connection = ConnectionRegistry(settings.connections_file).get(args.connection)
    except RegistryError as error:
        print(error, file=sys.stderr)
        return 2
    if connection is None:
        print(f"no connection {args.connection!r} in {settings.connections_file}", file=sys.stderr)
        return 2
    report = connect(connection, settings, args.base_url, Mode(fix=args.fix, remove=args.remove,
                                                               dry_run=args.dry_run))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
