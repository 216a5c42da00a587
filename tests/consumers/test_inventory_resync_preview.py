"""A full resync in preview (the command, and the poller when a connection goes to preview) records the whole LOB
and writes nothing; preview -> on then writes exactly the SKUs that differ, in all three carts."""
from __future__ import annotations


from carts.shopify.inventory import ShopifyStock
from consumers.inventory_resync import PreviewRecords, Resync
from events import topics
from events.previews import read_report, render
from infoplus.client import InfoplusClient
from schemas.connection import ConnectionSchema
from tests.consumers.test_inventory import (LOB, bigcommerce_connection, publisher, use_connections,  # noqa: F401
                                           woo_connection, woo_stock)
from tests.consumers.test_inventory_magento import magento  # noqa: F401  (fixture)
from tests.consumers.test_inventory_preview import cart_writes
from tests.consumers.test_inventory_resync import run_resync
from tests.consumers.test_orders_magento import magento_connection
from tests.support.world import INFOPLUS_API_KEY, eventually

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
    records = world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=12, timeout=30)
    assert {r["code"] for r in records} == {"preview"} and {r["consumer"] for r in records} == {"inventory-resync"}
    seen = {(r["connection_id"], r["preview"]["sku"]): r["preview"] for r in records
            if r["preview"]["flow"] == "inventory"}
    assert len(seen) == 9
    listings = {r["connection_id"]: r["preview"] for r in records if r["preview"]["flow"] == "catalog"}
    assert {n: (found["listed"], found["skus"], found["not_in_infoplus"]) for n, found in listings.items()} == {
        n: (True, 2, 0) for n in (101, 102, 103)}  # every cart SKU is an Infoplus item
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

    records = world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=4, timeout=60)
    assert {r["preview"]["sku"] for r in records if r["preview"]["flow"] == "inventory"} == set(ITEMS)
    eventually(lambda: "resync of connection 101:" in poller.output(), 60, message="the preview resync is over")
    assert [c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")] == []

    world.set_switch(101, "sync_inventory", True)

    eventually(lambda: world.shopify.available("SKU-DIFF") == 9, 60, message="the difference is written")
    eventually(lambda: poller.output().count("resync of connection 101:") == 2, 60, message="the resync is over")
    sets = [q["inventoryItemId"] for c in world.shopify.calls if "inventorySetQuantities" in (c.json or {}).get("query", "")
            for q in c.json["variables"]["input"]["quantities"]]
    assert sets == [world.shopify.variant("SKU-DIFF")["inventoryItemId"]]


# -- SKUs only the cart sells: one catalog listing, in preview only -------------------------------------------
CART_ONLY = "SKU-CART-ONLY"


def four_carts(world, woo, bigc, magento, switch) -> None:  # noqa: F811
    """ITEMS in every cart, plus CART_ONLY, which no Infoplus item has; and SKUs a listing must not report."""
    three_carts(world, woo, bigc, switch)
    world.shopify.add_variant(CART_ONLY, quantity=4)
    woo.add_variation("SKU-VARIABLE-PARENT", CART_ONLY, stock_quantity=4)  # sold as a variation of its product
    bigc.add_variant(CART_ONLY, quantity=4)
    for sku, (cart, _) in ITEMS.items():
        if cart is not None:
            magento.add_product(sku)
            magento.add_source_item(sku, cart)
    magento.add_product(CART_ONLY)
    magento.add_product("SKU-CONFIGURABLE-PARENT", type_id="configurable")  # sold as its children
    magento.add_product("SKU-DISABLED", status=2)
    use_connections(world, *world.connections, magento_connection(magento, 104, sync_inventory=switch))


def listing_calls(world, woo, bigc, magento) -> dict[str, int]:  # noqa: F811
    """The catalog listing's calls per cart (the stock lookups always name their SKUs)."""
    return {"shopify": sum("CatalogVariants" in (c.json or {}).get("query", "") for c in world.shopify.calls),
            "woocommerce": sum(c.method == "GET" and (c.path.endswith("/products") and "sku" not in c.query
                                                      or c.path.endswith("/variations")) for c in woo.calls),
            "bigcommerce": sum(c.path.endswith("v3/catalog/variants") and not {"sku", "sku:in"} & set(c.query)
                               for c in bigc.calls),
            "magento": sum(c.path.endswith("/products") for c in magento.calls)}


def test_a_resync_in_preview_records_the_sku_only_the_cart_sells_in_every_cart(world, woo, bigc, magento):  # noqa: F811
    four_carts(world, woo, bigc, magento, "preview")

    runs = [run_resync(world, "--connection", str(n), "--calls-per-second", "1000") for n in (101, 102, 103, 104)]

    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "not_in_infoplus 1" in run.stdout and "preview_differs 1" in run.stdout
    records = world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=20, timeout=30)
    cart_only = {r["connection_id"]: r for r in records if r["preview"].get("infoplus", {}) is None}
    assert sorted(cart_only) == [101, 102, 103, 104]
    for connection_id, record in cart_only.items():
        found = record["preview"]
        assert (record["code"], found["flow"], found["sku"], found["lob_id"]) == ("preview", "inventory", CART_ONLY, LOB)
        assert found["cart_now"]["code"] == "not_in_infoplus"
        assert found["cart_now"]["quantity"] == (None if connection_id == 104 else 4)  # Magento's list has no stock
        assert (found["would_set"], found["differs"], record["event"]) == (None, False, None)
    listings = {r["connection_id"]: r["preview"] for r in records if r["preview"]["flow"] == "catalog"}
    assert {n: (found["listed"], found["skus"], found["not_in_infoplus"], found["pages"])
            for n, found in listings.items()} == {n: (True, 3, 1, 2 if n == 102 else 1) for n in (101, 102, 103, 104)}
    assert listing_calls(world, woo, bigc, magento) == {"shopify": 1, "woocommerce": 2, "bigcommerce": 1,
                                                        "magento": 1}
    assert cart_writes(world, woo, bigc) == [] and magento.count("POST") == 0

    from tests.events.test_previews import cart_only_listed, run_preview
    for n in (101, 102, 103, 104):
        report = run_preview(world, "--connection", str(n))
        assert report.returncode == 0, report.stdout + report.stderr
        assert "the cart sells, Infoplus does not stock: 1 SKU(s)" in report.stdout, report.stdout
        assert cart_only_listed(report.stdout) == [CART_ONLY]


def test_a_resync_that_is_on_never_lists_the_catalog(world, woo, bigc, magento):  # noqa: F811
    four_carts(world, woo, bigc, magento, True)

    runs = [run_resync(world, "--connection", str(n), "--calls-per-second", "1000") for n in (101, 102, 103, 104)]

    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "applied 1" in run.stdout and "not_in_infoplus" not in run.stdout
    assert listing_calls(world, woo, bigc, magento) == {"shopify": 0, "woocommerce": 0, "bigcommerce": 0,
                                                        "magento": 0}
    assert world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=0) == []


def test_the_listing_pages_through_a_large_catalog_and_a_429_costs_a_wait_and_the_same_page(world, woo, bigc, magento):  # noqa: F811
    skus = [f"SKU-{n:03d}" for n in range(260)]  # more than a page everywhere; no Infoplus item has them
    for sku in skus:
        world.shopify.add_variant(sku, quantity=2)
        woo.add_product(sku, stock_quantity=2)
        bigc.add_variant(sku, quantity=2)
        magento.add_product(sku)
    use_connections(world, world.shopify_connection(sync_inventory="preview"),
                    woo_connection(woo, 102, sync_inventory="preview"),
                    bigcommerce_connection(bigc, 103, sync_inventory="preview"),
                    magento_connection(magento, 104, sync_inventory="preview"))
    # The LOB is empty, so no stock lookup comes first: these refuse the listing's first call.
    woo.fail_next(1, 429, retry_after=1, path_regex=r"/products$")
    bigc.rate_limit_next(1, reset_ms=500)

    runs = [run_resync(world, "--connection", str(n), "--calls-per-second", "1000") for n in (101, 102, 103, 104)]

    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "not_in_infoplus 260" in run.stdout, run.stdout
    records = world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=4 * 261, timeout=60)
    assert len(records) == 4 * 261
    listings = {r["connection_id"]: r["preview"] for r in records if r["preview"]["flow"] == "catalog"}
    assert {n: (found["skus"], found["not_in_infoplus"], found["pages"]) for n, found in listings.items()} == {
        101: (260, 260, 2), 102: (260, 260, 3), 103: (260, 260, 2), 104: (260, 260, 3)}
    # Calls per N SKUs: Shopify and BigCommerce 250 a call, WooCommerce and Magento 100; a refused call once more.
    assert listing_calls(world, woo, bigc, magento) == {"shopify": 2, "woocommerce": 3 + 1, "bigcommerce": 2 + 1,
                                                        "magento": 3}
    afters = [c.json["variables"]["after"] for c in world.shopify.calls if "CatalogVariants" in c.json["query"]]
    assert afters[0] is None and afters[1] is not None
    pages = [c.query.get("page") for c in woo.calls if c.path.endswith("/products") and "sku" not in c.query]
    assert pages == ["1", "1", "2", "3"]  # the refused page asked again, never the whole catalog


def test_a_platform_without_a_catalog_listing_says_so_in_the_report_and_the_resync_does_not_fail(world, publisher):  # noqa: F811
    world.infoplus.add_item(LOB, "SKU-SAME", orderable_quantity=7)
    world.shopify.add_variant("SKU-SAME", quantity=7)
    world.shopify.add_variant(CART_ONLY, quantity=4)
    connection = ConnectionSchema().load(world.shopify_connection(sync_inventory="preview"))
    topics.ensure_topics(world.settings(), [topics.skipped(topics.INFOPLUS_INVENTORY)])
    writer = ShopifyStock(connection, timeout=(3.05, 10))

    report = Resync(connection, InfoplusClient(world.infoplus.base_url, INFOPLUS_API_KEY), writer,
                    preview=PreviewRecords(publisher, connection), catalog=None).run()

    assert report.ok and dict(report.counts) == {"preview_matches": 1}
    world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=2, timeout=30)
    found = read_report(world.settings(), 101)
    assert found.listing is None and found.cart_only == []
    out = render(found)
    assert "no catalog listing at" in out and "platform shopify has no catalog listing" in out
    assert "the cart sells, Infoplus does not stock: not known" in out
    assert not any("CatalogVariants" in (c.json or {}).get("query", "") for c in world.shopify.calls)
