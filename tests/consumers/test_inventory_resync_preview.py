"""A full resync in preview (the command, and the poller when a connection goes to preview) records the whole LOB
and writes nothing; preview -> on then writes exactly the SKUs that differ, in all three carts."""
from __future__ import annotations


from events import topics
from tests.consumers.test_inventory import LOB, bigcommerce_connection, use_connections, woo_connection, woo_stock
from tests.consumers.test_inventory_preview import cart_writes
from tests.consumers.test_inventory_resync import run_resync
from tests.support.world import eventually

# SKU -> (cart has, Infoplus orderable): SAME matches everywhere, DIFF differs, GONE the carts do not sell.
ITEMS = {"SKU-SAME": (7, 7), "SKU-DIFF": (1, 9), "SKU-GONE": (None, 4)}


def three_carts(world, woo, bigc, switch) -> None:
    for sku, (cart, orderable) in ITEMS.items():
        world.infoplus.add_item(LOB, sku, orderable_quantity=orderable)
        if cart is not None:
            world.shopify.add_variant(sku, quantity=cart)
            woo.add_product(sku, stock_quantity=cart)
            bigc.add_variant(sku, quantity=cart)
    use_connections(world, world.shopify_connection(sync_inventory=switch),
                    woo_connection(woo, 102, sync_inventory=switch),
                    bigcommerce_connection(bigc, 103, sync_inventory=switch))


def written_skus(world, woo, bigc) -> dict[str, set[str]]:
    """Which SKUs each cart was asked to change (whatever the call: bulk or one by one)."""
    item_to_sku = {world.shopify.variant(sku)["inventoryItemId"]: sku for sku in ("SKU-SAME", "SKU-DIFF")}
    shopify = {item_to_sku[q["inventoryItemId"]] for c in world.shopify.calls
               if "inventorySetQuantities" in (c.json or {}).get("query", "")
               for q in c.json["variables"]["input"]["quantities"]}
    woo_ids = {woo.product(sku)["id"]: sku for sku in ("SKU-SAME", "SKU-DIFF")}
    woocommerce = {woo_ids[u["id"]] for c in woo.calls if c.method == "POST" and c.path.endswith("/batch")
                   for u in c.json["update"]}
    woocommerce |= {woo_ids[int(c.path.rsplit("/", 1)[1])] for c in woo.calls if c.method == "PUT"}
    bigcommerce = {i["sku"] for c in bigc.calls if c.method == "PUT" and "adjustments/absolute" in c.path
                   for i in c.json["items"]}
    return {"shopify": shopify, "woocommerce": woocommerce, "bigcommerce": bigcommerce}


def test_a_resync_in_preview_records_every_sku_of_the_lob_and_writes_nothing(world, woo, bigc):
    three_carts(world, woo, bigc, "preview")

    runs = [run_resync(world, "--connection", str(n), "--calls-per-second", "1000") for n in (101, 102, 103)]

    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "preview_differs 1" in run.stdout and "preview_matches 1" in run.stdout
        assert "not_in_cart 1" in run.stdout
    records = world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=9, timeout=30)
    assert {r["code"] for r in records} == {"preview"} and {r["consumer"] for r in records} == {"inventory-resync"}
    seen = {(r["connection_id"], r["preview"]["sku"]): r["preview"] for r in records}
    assert len(seen) == 9
    for connection_id in (101, 102, 103):
        assert seen[(connection_id, "SKU-DIFF")]["cart_now"]["quantity"] == 1
        assert seen[(connection_id, "SKU-DIFF")]["would_set"]["quantity"] == 9
        assert seen[(connection_id, "SKU-DIFF")]["differs"] is True
        assert seen[(connection_id, "SKU-SAME")]["differs"] is False
        assert seen[(connection_id, "SKU-GONE")]["cart_now"]["code"] == "not_in_cart"
    assert cart_writes(world, woo, bigc) == []
    assert world.shopify.available("SKU-DIFF") == 1 and woo_stock(woo, "SKU-DIFF") == 1
    assert bigc.inventory("SKU-DIFF") == 1


def test_preview_turned_on_writes_exactly_the_differences_in_every_cart(world, woo, bigc):
    three_carts(world, woo, bigc, "preview")
    for n in (101, 102, 103):
        assert run_resync(world, "--connection", str(n), "--calls-per-second", "1000").returncode == 0
    assert cart_writes(world, woo, bigc) == []

    for n in (101, 102, 103):
        world.set_switch(n, "sync_inventory", True)
    runs = [run_resync(world, "--connection", str(n), "--calls-per-second", "1000") for n in (101, 102, 103)]

    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "applied 1" in run.stdout and "unchanged 1" in run.stdout and "not_in_cart 1" in run.stdout
    assert written_skus(world, woo, bigc) == {"shopify": {"SKU-DIFF"}, "woocommerce": {"SKU-DIFF"},
                                              "bigcommerce": {"SKU-DIFF"}}
    assert world.shopify.available("SKU-DIFF") == 9 and woo_stock(woo, "SKU-DIFF") == 9
    assert bigc.inventory("SKU-DIFF") == 9


def test_the_poller_previews_the_lob_when_a_connection_goes_to_preview_then_writes_only_the_differences(world):
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.5", "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "60",
                            "INVENTORY_RESYNC_CALLS_PER_SECOND": "1000"})
    for sku, (cart, orderable) in ITEMS.items():
        world.infoplus.add_item(LOB, sku, orderable_quantity=orderable)
        if cart is not None:
            world.shopify.add_variant(sku, quantity=cart)
    use_connections(world, world.shopify_connection(sync_inventory="preview"))
    poller = world.start_poller()

    records = world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=3, timeout=60)
    assert {r["preview"]["sku"] for r in records} == set(ITEMS)
    eventually(lambda: "resync of connection 101:" in poller.output(), 60, message="the preview resync is over")
    assert [c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")] == []

    world.set_switch(101, "sync_inventory", True)

    eventually(lambda: world.shopify.available("SKU-DIFF") == 9, 60, message="the difference is written")
    eventually(lambda: poller.output().count("resync of connection 101:") == 2, 60, message="the resync is over")
    sets = [q["inventoryItemId"] for c in world.shopify.calls if "inventorySetQuantities" in (c.json or {}).get("query", "")
            for q in c.json["variables"]["input"]["quantities"]]
    assert sets == [world.shopify.variant("SKU-DIFF")["inventoryItemId"]]
