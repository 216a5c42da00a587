"""`sync_inventory: preview` / `sync_tracking_data: preview` in the connection file, and preview held back over
switches kept in Infoplus."""
from __future__ import annotations

import pytest

from config.connections import RegistryError, parse_connections
from infoplus.switches import held_back
from tests.config.test_connections import VALID, text

ENV = {"ACME_SECRET": "s"}


def load(**fields):
    [connection] = parse_connections(text({**VALID, **fields}), "c.yaml", ENV).values()
    return connection


def test_preview_reads_as_off_to_every_writer_and_names_its_flow():
    connection = load(sync_inventory="preview", sync_tracking_data="preview")
    assert connection.sync_inventory is False and connection.sync_tracking_data is False
    assert connection.previewing("inventory") and connection.previewing("tracking")
    assert connection.previews == frozenset({"inventory", "tracking"})


def test_true_and_false_work_as_before_and_are_not_previews():
    connection = load(sync_inventory=True, sync_tracking_data="no")
    assert connection.sync_inventory is True and connection.sync_tracking_data is False
    assert connection.previews == frozenset()


@pytest.mark.parametrize("field, value", [("sync_inventory", "maybe"), ("sync_orders", "preview"),
                                          ("sync_tracking_data", "previw")])
def test_anything_else_is_refused_with_the_field_named(field, value):
    with pytest.raises(RegistryError, match=f"field '{field}'"):
        load(**{field: value})


def test_preview_over_infoplus_switches_holds_an_on_switch_back_and_leaves_an_off_one_off():
    connection = load(sync_inventory="preview", sync_tracking_data="preview", switches_from="infoplus")
    resolved = held_back(connection, {"sync_orders": True, "sync_inventory": True, "sync_tracking_data": False})
    assert resolved.sync_orders is True
    assert resolved.sync_inventory is False and resolved.previewing("inventory")
    assert resolved.sync_tracking_data is False and not resolved.previewing("tracking")
    plain = held_back(load(switches_from="infoplus"), {"sync_inventory": True, "sync_tracking_data": True})
    assert plain.sync_inventory is True and plain.previews == frozenset()
