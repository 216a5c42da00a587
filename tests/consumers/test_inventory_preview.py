"""Sync Inventory in preview: the real consumer process reads the three cart stand-ins (real HTTP) and records
what it would write on infoplus.inventory.skipped — and writes nothing."""
from __future__ import annotations

from datetime import timedelta


from events import topics
from tests.consumers.test_inventory import (LOB, T0, bigcommerce_connection, publish, publisher,  # noqa: F401
                                            use_connections, woo_connection, woo_stock)


def cart_writes(world, woo, bigc) -> list[str]:
    """Every call that could have changed a cart: any GraphQL mutation, any non-GET REST call."""
    shopify = [c.json["query"][:60] for c in world.shopify.calls if "mutation" in ((c.json or {}).get("query") or "")]
    rest = [f"{c.method} {c.path}" for standin in (woo, bigc) for c in standin.calls if c.method != "GET"]
    return shopify + rest


def previews(world, expect: int) -> list[dict]:
    records = world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=expect, timeout=45)
    assert all(r["code"] == "preview" for r in records), [r["code"] for r in records]
    return records


def test_a_changed_item_in_preview_writes_nothing_to_any_cart_and_records_both_values(world, woo, bigc, publisher):
    world.shopify.add_variant("SKU-P", quantity=5, inventory_policy="DENY")
    woo.add_product("SKU-P", stock_quantity=5, backorders="no")
    bigc.add_variant("SKU-P", quantity=5)
    use_connections(world, world.shopify_connection(sync_inventory="preview"),
                    woo_connection(woo, 102, sync_inventory="preview"),
                    bigcommerce_connection(bigc, 103, sync_inventory="preview"))
    world.start_consumer("inventory")

    publish(publisher, "SKU-P", 42, backorder=True)

    by_connection = {r["connection_id"]: r for r in previews(world, expect=3)}
    assert set(by_connection) == {101, 102, 103}
    shopify, woocommerce, bigcommerce = (by_connection[n]["preview"] for n in (101, 102, 103))
    assert shopify["cart_now"] | {"detail": ""} == {"code": "found", "quantity": 5, "policy": "DENY", "detail": ""}
    assert shopify["would_set"] == {"quantity": 42, "policy": "CONTINUE"}
    assert woocommerce["cart_now"]["quantity"] == 5 and woocommerce["cart_now"]["policy"] == "no"
    assert woocommerce["would_set"] == {"quantity": 42, "policy": "notify"}
    assert bigcommerce["cart_now"]["quantity"] == 5 and bigcommerce["would_set"] == {"quantity": 42, "policy": None}
    assert all(p["differs"] and p["infoplus"]["orderable_quantity"] == 42 for p in (shopify, woocommerce, bigcommerce))
    assert "from 5 to 42" in by_connection[101]["reason"] and "DENY -> CONTINUE" in by_connection[101]["reason"]
    assert by_connection[101]["event"]["payload"]["sku"] == "SKU-P"

    assert cart_writes(world, woo, bigc) == []
    assert world.shopify.available("SKU-P") == 5 and world.shopify.variant("SKU-P")["inventoryPolicy"] == "DENY"
    assert woo_stock(woo, "SKU-P") == 5 and woo.product("SKU-P")["backorders"] == "no"
    assert bigc.inventory("SKU-P") == 5
    assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0) == []


def test_preview_costs_the_lookup_a_write_makes_and_nothing_more(world, woo, publisher):
    world.shopify.add_variant("SKU-C", quantity=1)
    woo.add_product("SKU-C", stock_quantity=1)
    use_connections(world, world.shopify_connection(sync_inventory="preview"),
                    woo_connection(woo, 102, sync_inventory="preview"))
    world.start_consumer("inventory")

    publish(publisher, "SKU-C", 2)
    previews(world, expect=2)
    publish(publisher, "SKU-C", 3, at=T0 + timedelta(minutes=1))
    records = previews(world, expect=4)

    # One lookup per cart for both events (the SKU cache a write uses), no write, no Infoplus call at all.
    assert len(world.shopify.calls) == 1 and woo.count("GET", r"/products$") == 1 and len(woo.calls) == 1
    assert world.infoplus.calls == []
    assert sorted(r["preview"]["would_set"]["quantity"] for r in records) == [2, 2, 3, 3]
    assert [c for c in woo.calls if c.method != "GET"] == []


def test_a_level_the_cart_already_shows_is_recorded_as_matching_and_a_sku_it_does_not_sell_as_such(world, publisher):
    world.shopify.add_variant("SKU-SAME", quantity=7)
    use_connections(world, world.shopify_connection(sync_inventory="preview"))
    world.start_consumer("inventory")

    publish(publisher, "SKU-SAME", 7)
    publish(publisher, "NOT-SOLD", 3)

    by_sku = {r["preview"]["sku"]: r for r in previews(world, expect=2)}
    assert by_sku["SKU-SAME"]["preview"]["differs"] is False
    assert "already shows 7" in by_sku["SKU-SAME"]["reason"]
    assert by_sku["NOT-SOLD"]["preview"]["cart_now"]["code"] == "not_in_cart"
    assert by_sku["NOT-SOLD"]["preview"]["would_set"] is None
    assert [c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")] == []


def test_preview_kept_in_infoplus_holds_an_on_switch_back(world, publisher):
    world.shopify.add_variant("SKU-I", quantity=2)
    use_connections(world, world.shopify_connection(sync_inventory="preview", switches_from="infoplus"))
    world.infoplus.add_connection(101, LOB, 55, sync_inventory=True)  # on in Infoplus; the file holds it back
    world.start_consumer("inventory")

    publish(publisher, "SKU-I", 12)

    [record] = previews(world, expect=1)
    assert record["preview"]["cart_now"]["quantity"] == 2 and record["preview"]["would_set"]["quantity"] == 12
    assert world.shopify.available("SKU-I") == 2
    assert [c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")] == []
