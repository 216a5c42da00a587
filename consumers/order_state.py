"""What the orders consumer knows about each cart order, kept in its state store (consumers/state.py).

One value per cart order, under the order's Kafka key (`<connection>:<cart order id>`, so on the order's own
partition):
- `newest`: the newest version handled — an older snapshot arriving later is stale, across restarts too;
- `intent`: set (acks=all) right before `POST order`; `created` replaces it once Infoplus answered. An intent with
  no outcome (a crash, a SIGKILL, a rebalance, a timeout in between) means "look before you create";
- `created`: the Infoplus order number, the cart version it was made from and the lines and ship-to sent, so a
  later event (paid, updated, a duplicate delivery, a replay) is decided without asking Infoplus;
- `reports`: changes after creation already sent to ops (fingerprint -> event id), so one is reported once;
- on a Shopify fulfillment service connection, `service_lines`: the lines Infoplus got from a fulfillment request,
  with the order's quantity of each then (the requests' own state sits under `<connection>:fs:<order id>`).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from consumers.state import StateStore
from schemas.order import parse_version

OrderKey = tuple[int, str]  # (connection id, cart order id)
_SENT_FIELDS = ("lineItems", "extraOrderData")  # plus every shipTo* field: what a change is compared with


def _key(key: OrderKey) -> str:
    return f"{key[0]}:{key[1]}"


class OrderState:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    # -- versions (stale events) -----------------------------------------------------------------------------
    def newer_than(self, key: OrderKey, version: datetime) -> datetime | None:
        """The newest version already handled, when `version` is older than it (a stale event); else None."""
        newest = self._get(key).get("newest")
        if newest is None:
            return None
        newest_at = parse_version(newest)
        return newest_at if version < newest_at else None

    def handled(self, key: OrderKey, version: datetime) -> None:
        value = self._get(key)
        newest = value.get("newest")
        if newest is None or version > parse_version(newest):
            self._put(key, {**value, "newest": version.isoformat()})

    # -- creation --------------------------------------------------------------------------------------------
    def created(self, key: OrderKey) -> dict[str, Any] | None:
        """What was sent to Infoplus and the order number it got, if this order was created (or found) there."""
        return self._get(key).get("created")

    def must_look(self, key: OrderKey, created_at: str) -> bool:
        """Whether Infoplus must be searched before this order can be created:
        - a `POST order` was about to be made and no answer was recorded (in doubt: it may exist), or
        - whether Infoplus has it is not known here: the order was created in the cart before the store could vouch
          for it (handled by a version without the store, or its entry expired) and has not been looked up yet.
        Known and no intent pending means never created: only this consumer creates these orders, and it records
        its intent first."""
        value = self._get(key)
        if value.get("known"):
            return "intent" in value
        trusted = datetime.fromtimestamp(self._store.trusted_since(), timezone.utc)
        return parse_version(created_at) < trusted

    def known(self, key: OrderKey) -> None:
        """Infoplus's side of this order is known here from now on (looked up, or certainly new)."""
        value = self._get(key)
        if not value.get("known"):
            self._put(key, {**value, "known": True})

    def intend_to_create(self, key: OrderKey) -> None:
        self._put(key, {**self._get(key), "intent": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    def not_created(self, key: OrderKey) -> None:
        """Infoplus refused the order (a 4xx): nothing was made, so there is nothing to look for."""
        value = self._get(key)
        value.pop("intent", None)
        self._put(key, value)

    def record_created(self, key: OrderKey, infoplus_order: dict[str, Any]) -> None:
        """From the body sent plus the number Infoplus gave, or from the order found there."""
        self._put(key, self._with_created(key, infoplus_order))

    def _with_created(self, key: OrderKey, infoplus_order: dict[str, Any]) -> dict[str, Any]:
        sent = {name: value for name, value in infoplus_order.items()
                if name in _SENT_FIELDS or name.startswith("shipTo")}
        value = {name: v for name, v in self._get(key).items() if name != "intent"}
        return {**value, "known": True, "created": {"orderNo": infoplus_order.get("orderNo"), **sent}}

    # -- changes reported to ops (consumers/order_changes.py) ------------------------------------------------
    def reported_by(self, key: OrderKey, fingerprint: str) -> str | None:
        return self._get(key).get("reports", {}).get(fingerprint)

    def reported(self, key: OrderKey, version: datetime, fingerprint: str, event_id: str) -> None:
        value = self._get(key)
        self._put(key, {**value, "reports": {**value.get("reports", {}), fingerprint: event_id}})

    # -- a Shopify fulfillment service (consumers/fulfillment_requests.py) -------------------------------------
    def fulfillment_orders(self, key: OrderKey) -> list[str] | None:
        """The fulfillment orders the Infoplus order was made from; None when not known (found by a search)."""
        return self._get(key).get("fulfillment_orders")

    def record_fulfillment_orders(self, key: OrderKey, ids: list[str]) -> None:
        self._put(key, {**self._get(key), "fulfillment_orders": list(ids)})

    def announced(self, key: OrderKey) -> bool:
        """Whether the creation was told to the order's own partition (`fulfillment_requests.CREATED_EVENT`)."""
        return bool(self._get(key).get("announced"))

    def record_announced(self, key: OrderKey) -> None:
        self._put(key, {**self._get(key), "announced": True})

    def record_created_by_service(self, key: OrderKey, infoplus_order: dict[str, Any],
                                  lines_at_creation: dict[str, int]) -> None:
        """On the order's own key: Infoplus got the lines of `lines_at_creation` (cart line id -> the order's
        quantity of it then) from a fulfillment request, so later order webhooks compare only those lines."""
        if self.created(key) is None:
            self._put(key, {**self._with_created(key, infoplus_order), "service_lines": dict(lines_at_creation)})

    def service_lines(self, key: OrderKey) -> dict[str, int] | None:
        return self._get(key).get("service_lines")

    def _get(self, key: OrderKey) -> dict[str, Any]:
        return dict(self._store.get(_key(key)) or {})

    def _put(self, key: OrderKey, value: dict[str, Any]) -> None:
        self._store.put(_key(key), value)
