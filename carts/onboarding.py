"""Connecting a store (`cartbridge-connect`, docs/connect.md): the cart's webhook subscriptions, and checks of what
cartbridge will rely on, per platform behind one small surface.

A platform module supplies an `Onboarding` for one connection: which webhook topics the connection's switches need,
its subscriptions as the cart lists them (create / point here / delete), and checks it can make by reading (the
credentials and their scopes, the location). `reconcile` decides what to change, the same way for every platform,
and every answer becomes a `Check` line of the checklist.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

import requests

from outbound.errors import OutboundError
from schemas.connection import Connection


@dataclass(frozen=True)
class Check:
    """One line of the checklist: ✓ (ok), ✗ (with the fix), or `-` when it cannot be told by reading."""

    ok: bool | None
    label: str
    detail: str = ""
    fix: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "-"}[self.ok]


def passed(label: str, detail: str = "") -> Check:
    return Check(True, label, detail)


def failed(label: str, detail: str, fix: str) -> Check:
    return Check(False, label, detail, fix)


def unknown(label: str, detail: str) -> Check:
    return Check(None, label, detail)


@dataclass(frozen=True)
class Subscription:
    """One webhook subscription as the cart lists it."""

    id: str
    topic: str  # the platform's own word: orders/create, order.created, store/order/created
    address: str
    problem: str = ""  # what is wrong with it besides its address ("is not active", "sends XML"); "" when fine
    ours: bool = True  # False: another app's (WooCommerce lists every app's webhooks); never touched


class Onboarding(Protocol):
    """What a platform offers `cartbridge-connect` for one connection."""

    def topics(self) -> list[str]:
        """The webhook topics the connection's switches need (empty: the platform is polled)."""

    def subscriptions(self) -> list[Subscription]:
        """Every subscription the cart lists for these credentials. Raises outbound.errors on a refusal."""

    def create(self, topic: str, address: str) -> None:
        """Subscribe `address` to `topic` (signed with the connection's secret where the platform takes one)."""

    def point_here(self, subscription: Subscription, address: str) -> None:
        """Make an existing subscription deliver `topic` to `address`, active, with the connection's secret."""

    def delete(self, subscription: Subscription) -> None:
        """Remove a subscription."""

    def checks(self) -> list[Check]:
        """What can be told by reading: the credentials, their scopes for the switches, the location."""


class OnboardingFactory(Protocol):
    def __call__(self, connection: Connection, *, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> Onboarding:
        """An onboarding for one connection."""


@dataclass(frozen=True)
class Mode:
    fix: bool = False  # point subscriptions that deliver elsewhere here; delete ones cartbridge does not need
    remove: bool = False  # delete every subscription delivering here
    dry_run: bool = False  # say what would change, change nothing


def webhook_address(public_base_url: str, connection_id: int) -> str:
    return f"{public_base_url.rstrip('/')}/webhooks/carts/{connection_id}"


def reconcile(onboarding: Onboarding, address: str, mode: Mode) -> list[Check]:
    """Bring the cart's subscriptions to what the connection needs, and say so line by line. Re-running it changes
    nothing; subscriptions of other apps are never touched."""
    ours = [s for s in onboarding.subscriptions() if s.ours]
    if mode.remove:
        return [_remove(onboarding, s, mode) for s in ours if _same_address(s.address, address)]
    lines = [_topic(onboarding, topic, [s for s in ours if s.topic == topic], address, mode)
             for topic in onboarding.topics()]
    wanted = set(onboarding.topics())
    lines += [_unneeded(onboarding, s, mode) for s in ours
              if _same_address(s.address, address) and s.topic not in wanted]
    return lines


def _topic(onboarding: Onboarding, topic: str, found: list[Subscription], address: str, mode: Mode) -> Check:
    label = f"webhook {topic}"
    here = [s for s in found if _same_address(s.address, address) and not s.problem]
    if here:
        return _one_is_enough(onboarding, label, here[1:], address, mode)
    if found:
        current = found[0]
        state = f"delivers to {current.address}" + (f" but {current.problem}" if current.problem else "")
        if not mode.fix:
            return failed(label, state, "run again with --fix to point it here")
        if mode.dry_run:
            return unknown(label, f"{state}; would point it at {address}")
        onboarding.point_here(current, address)
        return passed(label, f"{state}: now delivers to {address}")
    if mode.dry_run:
        return unknown(label, f"missing; would subscribe {address}")
    onboarding.create(topic, address)
    return passed(label, f"created, delivers to {address}")


def _one_is_enough(onboarding: Onboarding, label: str, extras: list[Subscription], address: str,
                   mode: Mode) -> Check:
    """A second subscription of the same topic delivers every order twice: harmless (deduplicated), but wasted."""
    if not extras:
        return passed(label, f"delivers to {address}")
    if not mode.fix:
        return failed(label, f"delivers to {address} {len(extras) + 1} times", "run again with --fix to keep one")
    if mode.dry_run:
        return unknown(label, f"delivers to {address} {len(extras) + 1} times; would keep one")
    for extra in extras:
        onboarding.delete(extra)
    return passed(label, f"delivers to {address} (deleted {len(extras)} duplicate)")


def _unneeded(onboarding: Onboarding, subscription: Subscription, mode: Mode) -> Check:
    label = f"webhook {subscription.topic}"
    if not mode.fix:
        return failed(label, "delivers here but the connection's switches do not need it",
                      "run again with --fix to delete it")
    if mode.dry_run:
        return unknown(label, "not needed; would delete it")
    onboarding.delete(subscription)
    return passed(label, "not needed: deleted")


def _remove(onboarding: Onboarding, subscription: Subscription, mode: Mode) -> Check:
    label = f"webhook {subscription.topic}"
    if mode.dry_run:
        return unknown(label, f"would delete it ({subscription.address})")
    try:
        onboarding.delete(subscription)
    except OutboundError as error:  # the others are still removed
        return failed(label, error.reason, "remove it in the cart's admin")
    return passed(label, "deleted")


def _same_address(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def order_topics_needed(connection: Connection) -> bool:
    """Order webhooks matter while Sync Orders is on, or may be turned on in Infoplus at any time."""
    return connection.sync_orders or connection.switches_from == "infoplus"


def writes(connection: Connection) -> list[str]:
    """The switches that write to the cart and are on, by name, for a checklist's detail."""
    names = {"sync_inventory": "Sync Inventory", "sync_tracking_data": "Sync Tracking Data"}
    return [label for field, label in names.items() if getattr(connection, field)]


def scope_checks(granted: Iterable[str], required: dict[str, str]) -> list[Check]:
    """One line per scope the switches need (`required`: scope -> what it is for)."""
    have = set(granted)
    return [passed(f"scope {scope}", why) if scope in have else
            failed(f"scope {scope}", f"not granted; needed for {why}", f"grant {scope} to the app and reinstall it")
            for scope, why in required.items()]
