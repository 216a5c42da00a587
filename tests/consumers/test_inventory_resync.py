"""`python -m consumers.inventory_resync`: every item of a LOB from the Infoplus stand-in lands in the cart."""
from __future__ import annotations

import subprocess
import sys

import pytest

from carts.shopify.inventory import ShopifyStock
from config.settings import Settings
from consumers.inventory_resync import Resync
from infoplus.client import InfoplusClient
from sandbox.bigcommerce import BigCommerceStandIn
from schemas.connection import ConnectionSchema
from tests.support.kafka import ROOT
from tests.support.world import INFOPLUS_API_KEY

LOB, OTHER_LOB = 10000, 20000


def run_resync(world, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "consumers.inventory_resync", *args], cwd=ROOT,
                          env=world.environ(), capture_output=True, text=True, timeout=300)


def test_resync_pages_every_item_of_the_lob_into_the_cart(world):
    skus = [f"SKU-{n:03d}" for n in range(260)]  # more than one page of 250
    for n, sku in enumerate(skus):
        world.infoplus.add_item(LOB, sku, orderable_quantity=n, backorder="Yes" if n % 2 else "No")
        if n < 255:  # the last five are not sold in this store
            world.shopify.add_variant(sku, quantity=999)
    world.infoplus.add_item(OTHER_LOB, "SKU-000", orderable_quantity=7777)
    world.connections = [world.shopify_connection(sync_inventory=True)]
    world.write_connections()

    finished = run_resync(world, "--connection", "101", "--calls-per-second", "1000")

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "applied 255" in finished.stdout and "not_in_cart 5" in finished.stdout
    assert [world.shopify.available(sku) for sku in skus[:255]] == list(range(255))
    policies = [world.shopify.variant(sku)["inventoryPolicy"] for sku in skus[:255]]
    assert policies == ["CONTINUE" if n % 2 else "DENY" for n in range(255)]
    pages = sorted(c.query.get("page") for c in world.infoplus.calls if c.path.endswith("item/search")
                   and "modifyDate" not in c.query.get("filter", ""))
    assert pages == ["1", "2"]


def test_an_infoplus_429_costs_a_wait_and_the_same_page_again_not_a_failed_resync(world):
    skus = [f"SKU-{n:03d}" for n in range(260)]
    for n, sku in enumerate(skus):
        world.infoplus.add_item(LOB, sku, orderable_quantity=n)
        world.shopify.add_variant(sku, quantity=999)
    world.connections = [world.shopify_connection(sync_inventory=True)]
    world.write_connections()
    world.infoplus.fail_next(1, 429, retry_after=1, path_regex=r"item/search")

    finished = run_resync(world, "--connection", "101", "--calls-per-second", "1000")

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "applied 260" in finished.stdout
    pages = [c.query.get("page") for c in world.infoplus.calls if c.path.endswith("item/search")
             and "modifyDate" not in c.query.get("filter", "")]
    assert pages == ["1", "1", "2"]  # the refused first ask, asked again; never the whole LOB twice


def test_resync_waits_out_a_cart_429_and_still_lands_every_item(world):
    with BigCommerceStandIn() as bigc:
        for sku in ("A-1", "A-2", "A-3"):
            world.infoplus.add_item(LOB, sku, orderable_quantity=11)
            bigc.add_variant(sku, quantity=0)
        world.connections = [{"id": 103, "name": "BigCommerce", "platform": "bigcommerce",
                              "store_hash": bigc.store_hash, "api_base_url": bigc.api_base_url, "lob_id": LOB,
                              "order_source_id": 57, "warehouse_id": 1000, "default_carrier_id": 1,
                              "webhook_secret": "bc-secret", "access_token": bigc.access_token,
                              "location_id": "1", "sync_inventory": True}]
        world.write_connections()
        bigc.rate_limit_next(2, reset_ms=500)

        finished = run_resync(world, "--connection", "103", "--calls-per-second", "1000")

        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert [bigc.inventory(sku) for sku in ("A-1", "A-2", "A-3")] == [11, 11, 11]
        assert bigc.throttled == 2 and "applied 3" in finished.stdout


def test_resync_refuses_a_connection_whose_sync_inventory_is_off(world):
    world.infoplus.add_item(LOB, "SKU-1", orderable_quantity=5)
    world.shopify.add_variant("SKU-1", quantity=1)
    world.connections = [world.shopify_connection(sync_inventory=False)]
    world.write_connections()

    finished = run_resync(world, "--connection", "101")

    assert finished.returncode == 1 and "Sync Inventory is off for connection 101" in finished.stderr
    assert world.shopify.available("SKU-1") == 1 and world.shopify.count("POST") == 0


class _LiveChangeDuringWrite:
    """Stands for the inventory consumer applying a newer value while the resync writes an older page."""

    def __init__(self, writer, infoplus, sku: str, newer: int) -> None:
        self._writer, self._infoplus, self._sku, self._newer = writer, infoplus, sku, newer

    def set_stock(self, level):
        result = self._writer.set_stock(level)
        if level.sku == self._sku and self._newer is not None:
            self._infoplus.set_orderable(LOB, self._sku, self._newer)  # Infoplus changes after the page was read
            self._newer = None
        return result


def test_an_item_changed_while_the_resync_runs_is_pushed_again_as_it_is_now(world):
    for sku, quantity in (("C-1", 1), ("C-2", 2)):
        world.infoplus.add_item(LOB, sku, orderable_quantity=quantity)
        world.shopify.add_variant(sku, quantity=0)
    connection = ConnectionSchema().load(world.shopify_connection(sync_inventory=True))
    infoplus = InfoplusClient(world.infoplus.base_url, INFOPLUS_API_KEY)
    writer = _LiveChangeDuringWrite(ShopifyStock(connection, timeout=(3.05, 10)), world.infoplus, "C-1", 50)

    report = Resync(connection, infoplus, writer).run()

    assert report.ok and report.counts["applied"] == 2
    assert world.shopify.available("C-1") == 50 and world.shopify.available("C-2") == 2


@pytest.mark.parametrize("per_second", [0, -1])
def test_a_resync_budget_must_be_positive(per_second):
    from outbound.pacing import PacedSession
    with pytest.raises(ValueError):
        PacedSession(per_second)


def test_settings_read_the_resync_budget_and_the_coalescing_wait():
    settings = Settings.from_env({"INVENTORY_RESYNC_CALLS_PER_SECOND": "0.5", "INVENTORY_COALESCE_MS": "100"})
    assert settings.inventory_resync_calls_per_second == 0.5 and settings.inventory_coalesce_ms == 100
