"""The console's preview page against a real broker: the SKUs that differ and the fulfillment tracking would have
made, from records real consumers left; in a real headless browser too; nothing without the token."""
from __future__ import annotations

import requests

from events import topics
from tests.consumers.test_inventory import publish, publisher, use_connections  # noqa: F401  (fixture)
from tests.consumers.tracking_support import PUSH_SECRET, WAIT, infoplus_order, push
from tests.ops.test_browser import browser  # noqa: F401  (fixture)
from tests.support.ops import OPS_TOKEN, logged_in
from tests.support.world import eventually


def previewed(world, publisher) -> None:  # noqa: F811
    for sku, cart in (("SKU-SAME", 7), ("SKU-UP", 1)):
        world.shopify.add_variant(sku, quantity=cart)
    use_connections(world, world.shopify_connection(sync_inventory="preview", sync_tracking_data="preview"))
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = PUSH_SECRET
    world.start_consumer("inventory")
    world.start_consumer("tracking")
    publish(publisher, "SKU-SAME", 7)
    publish(publisher, "SKU-UP", 9, backorder=True)
    world.shopify.add_order(7201, [{"sku": "SKU-UP", "quantity": 1}])
    order = infoplus_order(world, 7201, {"SKU-UP": 1})
    push(world, world.infoplus.add_shipment(order["orderNo"], "1ZPAGE00000000001", "UPS"))
    world.read(topics.skipped(topics.INFOPLUS_INVENTORY), expect=2, timeout=WAIT)
    world.read(topics.skipped(topics.INFOPLUS_SHIPMENTS), expect=1, timeout=WAIT)


def test_the_preview_page_shows_what_would_be_written_and_nothing_without_the_token(world, console, publisher):  # noqa: F811
    previewed(world, publisher)
    assert "/login" in requests.get(console + "/preview?connection=101", timeout=10).url
    browser = logged_in(console)

    index = browser.get(console + "/", timeout=10).text
    assert "Sync Inventory: preview" in index and "Sync Tracking Data: preview" in index
    assert "/preview?connection=101" in index
    page = browser.get(console + "/preview", params={"connection": "101"}, timeout=10).text

    assert page.count('class="difference"') == 1 and "SKU-UP" in page and "DENY -&gt; CONTINUE" in page
    assert "SKU-SAME" not in page.split('id="inventory-differences"')[1].split("</table>")[0]
    assert page.count('class="tracking-write"') == 1 and "1ZPAGE00000000001" in page
    assert "Shopify shipping confirmation" in page
    assert browser.get(console + "/preview", params={"connection": "999"}, timeout=10).status_code == 404
    assert [c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")] == []


def test_the_preview_page_in_a_real_browser(world, console, publisher, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    previewed(world, publisher)
    browser.get(f"{console}/preview?connection=101")
    browser.find_element(By.ID, "token").send_keys(OPS_TOKEN)
    browser.find_element(By.ID, "login").click()
    eventually(lambda: browser.current_url.startswith(f"{console}/preview"), 10, message="back on the preview")

    [row] = browser.find_elements(By.CSS_SELECTOR, "#inventory-differences tr.difference")
    assert row.text.split()[:4] == ["SKU-UP", "1", "9", "9"]
    assert "1 differ" in browser.find_element(By.ID, "inventory-summary").text
    assert "1 shopper email(s)" in browser.find_element(By.ID, "tracking-summary").text
    assert "1ZPAGE00000000001" in browser.find_element(By.ID, "tracking-writes").text


def test_the_preview_page_lists_the_skus_only_the_cart_sells_once_a_resync_listed_the_catalog(world, console, publisher):  # noqa: F811
    from tests.consumers.test_inventory_resync import LOB, run_resync

    previewed(world, publisher)
    browser = logged_in(console)
    page = browser.get(console + "/preview", params={"connection": "101"}, timeout=10).text
    assert "not known (no catalog listing yet)" in page and 'class="cart-only"' not in page
    assert "Shopify: 1 productVariants call per 250 variants" in page

    world.shopify.add_variant("SKU-CART-ONLY", quantity=4)
    for sku, orderable in (("SKU-SAME", 7), ("SKU-UP", 9)):
        world.infoplus.add_item(LOB, sku, orderable_quantity=orderable)
    assert run_resync(world, "--connection", "101", "--calls-per-second", "1000").returncode == 0
    page = browser.get(console + "/preview", params={"connection": "101"}, timeout=10).text

    summary = page.split('id="inventory-summary"')[1].split("</div>")[0]
    assert "1 sold by the cart, not stocked by Infoplus" in summary
    assert page.count('class="cart-only"') == 1
    listed = page.split('id="cart-only-skus"')[1].split("</table>")[0]
    assert "SKU-CART-ONLY" in listed and ">4<" in listed and "SKU-SAME" not in listed
    assert [c for c in world.shopify.calls if "mutation" in (c.json or {}).get("query", "")] == []
