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


# -- ids as the platforms write them (issue 13) --------------------------------------------------------------
BIGCOMMERCE = {"id": 301, "name": "Acme BigCommerce", "platform": "bigcommerce", "store_hash": "abc123",
               "lob_id": 10000, "order_source_id": 57, "warehouse_id": 1000, "default_carrier_id": 1,
               "webhook_secret": "client-secret", "access_token": "token"}


def load_yaml(yaml_text: str, env: dict | None = None):
    return parse_connections(yaml_text, "c.yaml", env or {})


def test_a_bigcommerce_location_written_as_a_number_is_read_as_that_location():
    [connection] = load_yaml(text({**BIGCOMMERCE, "location_id": 1})).values()
    assert connection.location_id == "1"
    [quoted] = load_yaml(text({**BIGCOMMERCE, "location_id": "1"})).values()
    assert quoted.location_id == "1"


def test_a_bigcommerce_location_that_is_not_a_number_is_refused_at_load():
    with pytest.raises(RegistryError, match="field 'location_id': a BigCommerce location id is a whole number"):
        load_yaml(text({**BIGCOMMERCE, "location_id": "gid://shopify/Location/1"}))


def test_text_fields_written_as_numbers_keep_exactly_what_was_typed():
    yaml_text = ("connections:\n"
                 "  - {id: 301, name: 2024, platform: bigcommerce, store_hash: 0123, lob_id: 10000,\n"
                 "     order_source_id: 57, warehouse_id: 1000, default_carrier_id: 1,\n"
                 "     webhook_secret: 000123456, access_token: 99}\n")
    [connection] = load_yaml(yaml_text).values()
    # YAML 1.1 reads 0123 as octal 83 and 000123456 as 42798: the operator meant the digits they typed.
    assert (connection.name, connection.store_hash, connection.webhook_secret, connection.access_token) == \
        ("2024", "0123", "000123456", "99")


def test_numeric_ids_may_be_quoted_or_come_from_a_variable():
    entry = {**VALID, "id": "101", "lob_id": "${LOB}", "order_source_id": " 55 "}
    [connection] = parse_connections(text(entry), "c.yaml", {"ACME_SECRET": "s", "LOB": "10000"}).values()
    assert (connection.id, connection.lob_id, connection.order_source_id) == (101, 10000, 55)


@pytest.mark.parametrize("value", [True, 1.5, "10k", "1e3"])
def test_an_id_that_is_not_a_whole_number_is_refused_not_rounded(value):
    with pytest.raises(RegistryError, match="field 'lob_id': Not a valid integer"):
        parse_connections(text({**VALID, "lob_id": value}), "c.yaml", {"ACME_SECRET": "s"})


def test_a_switch_written_as_yes_or_from_a_variable_reads_as_on():
    entry = {**VALID, "sync_inventory": "${INVENTORY}", "sync_tracking_data": "yes"}
    [connection] = parse_connections(text(entry), "c.yaml", {"ACME_SECRET": "s", "INVENTORY": "true"}).values()
    assert connection.sync_inventory is True and connection.sync_tracking_data is True


def test_the_example_file_is_a_valid_registry():
    env = {"ACME_WEBHOOK_SECRET": "s", "ACME_SHOPIFY_TOKEN": "t"}
    with open("config/connections.example.yaml", encoding="utf-8") as handle:
        [connection] = parse_connections(handle.read(), "example", env).values()
    assert connection.location_id == "gid://shopify/Location/1"


def test_a_connection_may_set_its_own_cap_on_events_in_flight_within_bounds():
    [default] = parse_connections(text(VALID), "c.yaml", {"ACME_SECRET": "s"}).values()
    [own] = parse_connections(text({**VALID, "max_in_flight": 12}), "c.yaml", {"ACME_SECRET": "s"}).values()
    assert default.max_in_flight is None and own.max_in_flight == 12
    for refused in (0, 65, "many"):
        with pytest.raises(RegistryError, match="max_in_flight"):
            parse_connections(text({**VALID, "max_in_flight": refused}), "c.yaml", {"ACME_SECRET": "s"})
