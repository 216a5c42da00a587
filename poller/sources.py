"""What the poller reads from Infoplus, and how each record becomes an event."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from marshmallow import Schema

from events.infoplus import inventory_event, shipment_event
from infoplus.client import quote_filter_value
from schemas.infoplus import InfoplusItemSchema, InfoplusShipmentSchema


@dataclass(frozen=True)
class Source:
    name: str  # part of the cursor's key
    resource: str  # the Infoplus search resource
    schema: Schema
    to_event: Callable  # (record, original, source) -> (topic, key, envelope)

    def filter(self, since: str) -> str:
        """Every LOB the API user sees, in one search (no `lobId` term): a cycle's cost does not grow with them."""
        return f"modifyDate ge {quote_filter_value(since)}"


SOURCES = (
    Source("shipments", "shipment", InfoplusShipmentSchema(), shipment_event),
    Source("inventory", "item", InfoplusItemSchema(), inventory_event),
)


@dataclass
class Cursor:
    """Where one source resumes (for every LOB): its newest `modifyDate`, and the ids already seen at that instant.

    Polling asks for `modifyDate ge since` (not `gt`): records that share the newest timestamp but arrived after
    the last poll are not skipped, and the ids seen at `since` are not published twice.
    """

    since: str
    ids_at_since: list[Any] = field(default_factory=list)

    def is_new(self, row: dict) -> bool:
        return not (row.get("modifyDate") == self.since and row.get("id") in self.ids_at_since)

    def advanced(self, rows: list[dict]) -> "Cursor":
        newest = max((row["modifyDate"] for row in rows if row.get("modifyDate")), default=None)
        if newest is None or newest < self.since:
            return self
        carried = self.ids_at_since if newest == self.since else []
        return Cursor(newest, sorted({*carried, *(row.get("id") for row in rows if row.get("modifyDate") == newest)},
                                     key=str))

    def to_dict(self) -> dict:
        return {"since": self.since, "ids_at_since": self.ids_at_since}

    @classmethod
    def from_dict(cls, value: dict) -> "Cursor":
        return cls(value["since"], list(value.get("ids_at_since") or []))
