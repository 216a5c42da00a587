"""Issue 21, inventory: levels parked for a failing cart survive a copy joining and leaving and a SIGKILL. Shopify
(connection 101) and WooCommerce (connection 202) share one LOB, every partition holds SKUs of both; WooCommerce
answers 503 throughout; when it is back, each of its levels lands once, in order, and the latest is what it shows.
Real inventory consumers (processes), the real broker, real stand-ins."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from events import topics
from events.publisher import Publisher
from tests.consumers.test_connection_outage import SKUS, shopify_and_a_failing_woocommerce_on_one_lob, started
from tests.consumers.test_inventory import T0, publish, woo_stock
from tests.support.cart_orders import woo  # noqa: F401  (fixture)
from tests.support.world import eventually

WAIT = 60
FIRST, LATEST = 10, 20  # each SKU's first level is FIRST + n, its latest LATEST + n


@pytest.fixture
def world(world):
    world.overrides["CONNECTION_RETRY_MAX_SECONDS"] = "2"
    return world


@pytest.fixture
def publisher(world):
    topics.ensure_topics(world.settings(), [topics.INFOPLUS_INVENTORY])
    publisher = Publisher(world.settings())
    yield publisher
    publisher.close()


def levels(publisher: Publisher, base: int, at) -> None:
    for n, sku in enumerate(SKUS):
        publish(publisher, sku, base + n, at=at)


def shopify_shows(world, base: int) -> bool:
    return all(world.shopify.available(sku) == base + n for n, sku in enumerate(SKUS))


def woo_shows(woo, base: int) -> bool:  # noqa: F811
    return all(woo_stock(woo, sku) == base + n for n, sku in enumerate(SKUS))


def woo_writes(woo) -> dict[str, list[int]]:  # noqa: F811
    """SKU -> every quantity the store took, in order (one product at a time, or in batches)."""
    sku_of = {woo.product(sku)["id"]: sku for sku in SKUS}
    written: dict[str, list[int]] = {sku: [] for sku in SKUS}
    for call in woo.calls:
        if call.status != 200 or call.method not in ("PUT", "POST") or "/products" not in call.path:
            continue
        body = call.json or {}
        updates = body.get("update", []) if call.path.endswith("/batch") else [
            {**body, "id": int(call.path.rsplit("/", 1)[-1])}]
        for update in updates:
            if "stock_quantity" in update and update.get("id") in sku_of:
                written[sku_of[update["id"]]].append(update["stock_quantity"])
    return written


def test_parked_levels_survive_a_copy_joining_and_leaving_and_a_sigkill_and_land_once(world, woo, publisher):  # noqa: F811,E501
    shopify_and_a_failing_woocommerce_on_one_lob(world, woo)
    first = started(world, "inventory")

    levels(publisher, FIRST, T0)
    eventually(lambda: shopify_shows(world, FIRST), WAIT, message="Shopify shows the first levels")
    eventually(lambda: first.output().count("parked event_id=") >= len(SKUS), WAIT,
               message="WooCommerce's first levels parked")

    second = world.start_consumer("inventory")  # joins while WooCommerce's levels are parked
    eventually(lambda: "assigned [" in second.output() and first.output().count(": assigned [") >= 2, WAIT,
               message="the second copy joined")
    levels(publisher, LATEST, T0 + timedelta(minutes=1))
    eventually(lambda: shopify_shows(world, LATEST), WAIT, message="Shopify shows the latest levels, two copies")
    assert second.terminate() == 0  # leaves
    eventually(lambda: first.output().count(": assigned [") >= 3, WAIT, message="partitions back with the first")
    time.sleep(1)
    first.kill()  # SIGKILL while parked: no commit, no goodbye
    started(world, "inventory")
    assert all(woo_stock(woo, sku) == 0 for sku in SKUS), "nothing reached WooCommerce while it failed"

    woo.reset_faults()
    recovered = time.monotonic()
    eventually(lambda: woo_shows(woo, LATEST), WAIT, message="WooCommerce shows the latest levels")
    print(f"WooCommerce's levels landed {time.monotonic() - recovered:.1f} s after it recovered")
    time.sleep(3)  # an older parked level applied after the newer one, or a level written again, would show now
    assert woo_shows(woo, LATEST)
    for n, sku in enumerate(SKUS):
        written = woo_writes(woo)[sku]
        assert written and written[-1] == LATEST + n, f"{sku}: {written}"
        assert written in ([LATEST + n], [FIRST + n, LATEST + n]), f"{sku}: each level once, in order: {written}"
    assert shopify_shows(world, LATEST)
    assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0, timeout=2) == []
