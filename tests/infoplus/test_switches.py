"""Switches read from the Infoplus ShoppingCartConnection record, over real HTTP to the stand-in."""
from __future__ import annotations

import pytest
import yaml

from config.connections import ConnectionRegistry
from infoplus.client import InfoplusClient
from infoplus.switches import SwitchBoard
from outbound.errors import Retryable
from sandbox.infoplus import InfoplusStandIn

ENTRY = {"id": 101, "name": "Acme", "platform": "shopify", "store_url": "https://acme.myshopify.com",
         "lob_id": 10000, "order_source_id": 55, "warehouse_id": 1000, "default_carrier_id": 1,
         "webhook_secret": "s", "access_token": "t", "sync_orders": True, "switches_from": "infoplus"}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def board(tmp_path, infoplus):
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": [ENTRY, {**ENTRY, "id": 102, "switches_from": "file"}]}))
    clock = Clock()
    client = InfoplusClient(infoplus.base_url, "infoplus-test-key", timeout=(1, 2))
    return SwitchBoard(ConnectionRegistry(str(path)), client, ttl_seconds=30, clock=clock), clock


def test_switches_come_from_infoplus_and_a_flip_takes_effect_after_the_ttl(board, infoplus):
    switches, clock = board
    infoplus.add_connection(101, 10000, 55, sync_orders=True, sync_inventory=False, sync_tracking_data=True)

    connection = switches.get(101)
    assert (connection.sync_orders, connection.sync_inventory, connection.sync_tracking_data) == (True, False, True)

    infoplus.set_switch(101, "syncTrackingData", False)
    assert switches.get(101).sync_tracking_data is True  # cached
    clock.now = 31
    assert switches.get(101).sync_tracking_data is False


def test_file_connections_keep_their_own_switches(board, infoplus):
    switches, _ = board
    assert switches.get(102).sync_orders is True
    assert infoplus.count() == 0


def test_unreachable_infoplus_keeps_the_last_known_values(board, infoplus):
    switches, clock = board
    infoplus.add_connection(101, 10000, 55, sync_orders=True, sync_inventory=True, sync_tracking_data=True)
    assert switches.get(101).sync_inventory is True

    infoplus.fail_next(10, status=503)
    clock.now = 31
    assert switches.get(101).sync_inventory is True
    infoplus.stop()
    clock.now = 62
    assert {c.id: c.sync_inventory for c in switches.for_lob(10000)} == {101: True, 102: False}


def test_switches_never_read_are_not_guessed(board, infoplus):
    switches, _ = board
    infoplus.fail_next(1, status=500)
    with pytest.raises(Retryable, match="not known yet"):
        switches.get(101)


def test_many_connections_read_their_switches_in_one_paged_listing_per_ttl(tmp_path, infoplus):
    entries = [{**ENTRY, "id": 1000 + n, "name": f"Store {n}"} for n in range(300)]
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": entries}))
    for n in range(300):
        infoplus.add_connection(1000 + n, 10000, 55, sync_orders=True, sync_inventory=n % 2 == 0,
                                sync_tracking_data=False)
    clock = Clock()
    client = InfoplusClient(infoplus.base_url, "infoplus-test-key", timeout=(1, 5))
    switches = SwitchBoard(ConnectionRegistry(str(path)), client, ttl_seconds=30, clock=clock)

    resolved = switches.all()
    assert [c.sync_inventory for c in resolved] == [n % 2 == 0 for n in range(300)]
    assert infoplus.count("GET", r"shoppingCartConnection") == 2  # 250 + 50, not 300 reads
    switches.all()
    assert infoplus.count("GET", r"shoppingCartConnection") == 2  # cached for the TTL
    clock.now = 31
    infoplus.set_switch(1001, "syncInventory", True)
    assert switches.get(1001).sync_inventory is True
    assert infoplus.count("GET", r"shoppingCartConnection") == 4
