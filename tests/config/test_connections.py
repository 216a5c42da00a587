"""The connection registry: validation messages, ${VAR} expansion, reload without restart."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest
import yaml

from config.connections import ConnectionRegistry, RegistryError, parse_connections

VALID = {"id": 101, "name": "Acme", "platform": "shopify", "store_url": "https://acme.myshopify.com",
         "lob_id": 10000, "order_source_id": 55, "warehouse_id": 1000, "default_carrier_id": 1,
         "webhook_secret": "${ACME_SECRET}", "access_token": "shpat_x", "sync_orders": True}


def text(*entries: dict) -> str:
    return yaml.safe_dump({"connections": list(entries)})


def test_variables_are_expanded_and_switches_default_off():
    [connection] = parse_connections(text(VALID), "c.yaml", {"ACME_SECRET": "s3cret"}).values()
    assert connection.webhook_secret == "s3cret"
    assert connection.sync_orders is True and connection.sync_inventory is False
    assert "s3cret" not in repr(connection)


def test_a_missing_field_names_the_connection_and_the_field():
    broken = {k: v for k, v in VALID.items() if k != "lob_id"}
    with pytest.raises(RegistryError, match=r"connection 101 \(Acme\): field 'lob_id'"):
        parse_connections(text(broken), "c.yaml", {"ACME_SECRET": "s"})


def test_a_misspelt_switch_is_refused_rather_than_read_as_off():
    with pytest.raises(RegistryError, match="field 'sync_order'"):
        parse_connections(text({**VALID, "sync_order": True}), "c.yaml", {"ACME_SECRET": "s"})


def test_an_unset_variable_is_named():
    with pytest.raises(RegistryError, match="ACME_SECRET is not set"):
        parse_connections(text(VALID), "c.yaml", {})


def test_platform_credentials_are_required():
    entry = {**VALID, "platform": "woocommerce"}
    with pytest.raises(RegistryError, match="field 'consumer_key': required for platform woocommerce"):
        parse_connections(text(entry), "c.yaml", {"ACME_SECRET": "s"})


def test_duplicate_ids_are_refused():
    with pytest.raises(RegistryError, match="listed twice"):
        parse_connections(text(VALID, VALID), "c.yaml", {"ACME_SECRET": "s"})


def test_edits_take_effect_without_restart_and_a_broken_edit_keeps_the_last_good_file(tmp_path):
    path = tmp_path / "connections.yaml"
    path.write_text(text(VALID))
    now = [0.0]
    registry = ConnectionRegistry(str(path), reload_seconds=2, env={"ACME_SECRET": "s"}, clock=lambda: now[0])

    path.write_text(text({**VALID, "sync_orders": False}))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert registry.get(101).sync_orders is True  # not re-checked yet
    now[0] = 2.0
    assert registry.get(101).sync_orders is False

    path.write_text("connections: [ {id: 101")
    now[0] = 4.0
    assert registry.get(101).sync_orders is False
    assert registry.get("nope") is None and registry.get(999) is None


def test_orders_since_is_unset_by_default():
    [connection] = parse_connections(text(VALID), "c.yaml", {"ACME_SECRET": "s"}).values()
    assert connection.orders_since is None


@pytest.mark.parametrize("written, moment", [
    ("orders_since: 2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),  # YAML would read a date
    ("orders_since: '2026-11-01'", datetime(2026, 11, 1, tzinfo=timezone.utc)),
    ("orders_since: 2026-11-01T00:00:00-05:00", datetime(2026, 11, 1, 5, tzinfo=timezone.utc)),
    ("orders_since: '2026-11-01T09:30:00Z'", datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)),
])
def test_orders_since_is_a_date_at_midnight_utc_or_a_date_time_with_its_offset(written, moment):
    [connection] = parse_connections(text(VALID) + f"  {written}\n", "c.yaml", {"ACME_SECRET": "s"}).values()
    assert connection.orders_since == moment


@pytest.mark.parametrize("written, problem", [
    ("2026-13-01", "is not an ISO 8601 date"),  # unquoted: YAML itself would choke on the month
    ("'next monday'", "is not an ISO 8601 date"),
    ("'2026-W44-1'", "is not an ISO 8601 date"),  # ISO, but not a form an operator would mean here
    ("''", "is not an ISO 8601 date"),
    ("2026-11-01T00:00:00", "has no offset"),  # which midnight? refused rather than guessed
])
def test_a_bad_orders_since_stops_startup_naming_the_connection_and_the_field(tmp_path, written, problem):
    path = tmp_path / "connections.yaml"
    path.write_text(text(VALID) + f"  orders_since: {written}\n")
    with pytest.raises(RegistryError, match=rf"connection 101 \(Acme\): field 'orders_since': .*{problem}"):
        ConnectionRegistry(str(path), env={"ACME_SECRET": "s"})
