"""`cartbridge-preview --connection N`: the report built from the preview records real consumers left on the real
broker — exactly the SKUs that differ, and the fulfillments and emails tracking would have made."""
from __future__ import annotations

import subprocess
import sys

from events import topics
from events.previews import collect, render
from tests.consumers.test_inventory import T0, publish, publisher, use_connections  # noqa: F401  (fixture)
from tests.consumers.test_inventory_resync import run_resync
from tests.consumers.tracking_support import WAIT, infoplus_order, push
from tests.support.kafka import ROOT

LOB = 10000


def run_preview(world, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "events.previews", *args], cwd=ROOT, env=world.environ(),
                          capture_output=True, text=True, timeout=120)


def cart_only_listed(out: str) -> list[str]:
    """The SKUs the report lists under "the cart sells, Infoplus does not stock"."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "the cart sells, Infoplus does not stock:" in line)
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("    ") or line.startswith("    …"):
            break
        rows.append(line.split()[0])
    return rows


def cart_only(sku: str, quantity: int | None, *, listing: str, at: str, connection_id: int = 101) -> dict:
    return {"code": "preview", "connection_id": connection_id, "consumer": "inventory-resync", "skipped_at": at,
            "event": None, "preview": {"flow": "inventory", "sku": sku, "lob_id": LOB, "infoplus": None,
                                       "cart_now": {"code": "not_in_infoplus", "quantity": quantity, "policy": None,
                                                    "detail": ""},
                                       "would_set": None, "differs": False, "listing": listing}}


def listing(listing_id: str, *, at: str, listed: bool = True, skus: int = 3, detail: str = "") -> dict:
    return {"code": "preview", "connection_id": 101, "consumer": "inventory-resync", "skipped_at": at, "event": None,
            "preview": {"flow": "catalog", "listing": listing_id, "lob_id": LOB, "listed": listed, "skus": skus,
                        "detail": detail}}


def record(sku: str, cart: int | None, orderable: int, *, modified: str, connection_id: int = 101,
           policy: str = "DENY", would_policy: str = "DENY") -> dict:
    found = cart is not None
    return {"code": "preview", "connection_id": connection_id, "consumer": "inventory", "skipped_at": modified,
            "preview": {"flow": "inventory", "sku": sku,
                        "infoplus": {"orderable_quantity": orderable, "backorder": False, "modified_at": modified},
                        "cart_now": {"code": "found" if found else "not_in_cart", "quantity": cart,
                                     "policy": policy if found else None},
                        "would_set": {"quantity": orderable, "policy": would_policy} if found else None,
                        "differs": found and (cart != orderable or policy != would_policy)}}


def test_the_newest_record_per_sku_counts_and_differences_come_largest_first():
    records = [record("A", 5, 9, modified="2026-11-27T10:00:00+00:00"),
               record("A", 5, 5, modified="2026-11-27T11:00:00+00:00"),  # newer: A now matches
               record("B", 1, 100, modified="2026-11-27T10:00:00+00:00"),
               record("C", 10, 4, modified="2026-11-27T10:00:00+00:00", would_policy="CONTINUE"),
               record("D", None, 3, modified="2026-11-27T10:00:00+00:00"),
               record("B", 0, 0, modified="2026-11-27T12:00:00+00:00", connection_id=999),  # another connection
               {**record("E", 1, 2, modified="2026-11-27T10:00:00+00:00"), "code": "sync_off"}]

    report = collect(records, 101)

    assert [row.sku for row in report.differing] == ["B", "C"]
    assert [row.difference for row in report.differing] == [99, -6]
    assert report.differing[1].policy_change == "DENY -> CONTINUE"
    assert [row.sku for row in report.matching] == ["A"] and [row.sku for row in report.not_sold] == ["D"]
    assert not report.whole_lob


def test_without_a_catalog_listing_the_skus_only_the_cart_sells_are_not_known_never_none():
    report = collect([record("A", 5, 9, modified="2026-11-27T10:00:00+00:00"),
                      cart_only("HALF-WAY", 1, listing="run-1", at="2026-11-27T10:01:00+00:00")], 101)  # no end

    assert report.listing is None and report.cart_only == []
    out = render(report)
    assert "the cart sells, Infoplus does not stock: not known — no catalog listing was made yet" in out
    assert "Shopify: 1 productVariants call per 250 variants" in out and "HALF-WAY" not in out


def test_the_newest_complete_listing_counts_less_skus_an_infoplus_item_has_led_to_since():
    records = [cart_only("OLD", 1, listing="run-1", at="2026-11-27T09:00:00+00:00"),
               listing("run-1", at="2026-11-27T09:00:01+00:00"),
               cart_only("ONLY-CART", 4, listing="run-2", at="2026-11-27T10:00:00+00:00"),
               cart_only("CREATED-SINCE", 2, listing="run-2", at="2026-11-27T10:00:00+00:00"),
               cart_only("OTHER-CONNECTION", 2, listing="run-2", at="2026-11-27T10:00:00+00:00", connection_id=999),
               listing("run-2", at="2026-11-27T10:00:01+00:00", skus=40),
               record("CREATED-SINCE", 2, 2, modified="2026-11-27T11:00:00+00:00"),  # an Infoplus item now
               listing("run-3", at="2026-11-27T12:00:00+00:00", listed=False,
                       detail="the catalog listing failed: GET … answered 503")]

    report = collect(records, 101)

    assert [row.sku for row in report.cart_only] == ["ONLY-CART"] and report.cart_only[0].cart_quantity == 4
    assert report.listing.listing == "run-2" and report.listing_problem.listing == "run-3"
    out = render(report)
    assert "the cart sells, Infoplus does not stock: 1 SKU(s) (catalog listing of 2026-11-27T10:00:01+00:00: " \
           "40 cart SKUs)" in out
    assert cart_only_listed(out) == ["ONLY-CART"]
    assert "no catalog listing at 2026-11-27T12:00:00+00:00: the catalog listing failed" in out
    assert report.inventory.keys() == {"CREATED-SINCE"}  # a cart-only record is no Infoplus SKU seen


def test_the_report_lists_exactly_the_skus_that_differ_and_what_tracking_would_have_sent(world, publisher):
    for sku, cart in (("SKU-SAME", 7), ("SKU-UP", 1), ("SKU-DOWN", 50)):
        world.shopify.add_variant(sku, quantity=cart)
    for sku, orderable in (("SKU-SAME", 7), ("SKU-UP", 9), ("SKU-DOWN", 20), ("SKU-WAREHOUSE-ONLY", 3)):
        world.infoplus.add_item(LOB, sku, orderable_quantity=orderable)
    use_connections(world, world.shopify_connection(sync_inventory="preview", sync_tracking_data="preview"))
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = "whsec_dGVzdC1pbmZvcGx1cy1wdXNoLXNlY3JldA=="
    world.start_consumer("inventory")
    world.start_consumer("tracking")
    publish(publisher, "SKU-UP", 9)  # a live change, before any resync
    world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=1, timeout=45)
    assert run_resync(world, "--connection", "101", "--calls-per-second", "1000").returncode == 0
    world.shopify.add_order(7101, [{"sku": "SKU-UP", "quantity": 2}])
    order = infoplus_order(world, 7101, {"SKU-UP": 2})
    push(world, world.infoplus.add_shipment(order["orderNo"], "1ZREPORT000000001", "UPS"))
    world.read(topics.skipped(topics.INFOPLUS_SHIPMENTS), expect=1, timeout=WAIT)

    finished = run_preview(world, "--connection", "101")

    assert finished.returncode == 0, finished.stdout + finished.stderr
    out = finished.stdout
    assert "4 SKUs seen, 2 differ, 1 already match, 1 not sold by the cart" in out, out
    rows = [line.split() for line in out.splitlines() if line.startswith("  SKU-") and "->" not in line]
    assert [row[:4] for row in rows if len(row) >= 5] == [["SKU-DOWN", "50", "20", "20"], ["SKU-UP", "1", "9", "9"]]
    assert "largest differences: SKU-DOWN -30, SKU-UP +8" in out
    assert "covers the whole LOB" in out and "SKU-WAREHOUSE-ONLY (not_in_cart)" in out
    assert "the cart sells, Infoplus does not stock: 0 SKU(s)" in out and cart_only_listed(out) == []
    assert "1 shipments seen, 1 would write to the cart, 1 shopper email(s)" in out
    assert "fulfillment: fulfillmentCreate on gid://shopify/Order/7101: 2 × SKU-UP with 1ZREPORT000000001" in out
    assert "email: Shopify shipping confirmation" in out
    assert [c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")] == []
    assert len(world.shopify.fulfillments(7101)) == 0
