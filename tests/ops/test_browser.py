"""The ops console in a real headless browser (Debian's chromium through chromium-driver, driven by selenium):
log in, see a dead-lettered order with its reason, replay it, see it created in the Infoplus stand-in; no login
shows nothing; a replay POST from another origin is refused."""
from __future__ import annotations

import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from events import topics
from sandbox.sample import shopify_order
from tests.support.ops import OPS_TOKEN
from tests.support.world import eventually

DLQ = topics.dead_letters(topics.CART_ORDERS)
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (bin/setup installs it)")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("no chromium / chromedriver on this machine: bin/setup installs Debian's chromium and "
                    "chromium-driver where it runs as root with apt-get")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=412,915"):  # a phone's viewport
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(5)  # find_element waits for the next page to render
    yield driver
    driver.quit()


@pytest.fixture
def foreign_page():
    """A page on another origin that posts a replay form to the console as soon as it loads."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = pages.get(self.path, b"")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield pages, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_log_in_see_the_dead_letter_replay_it_and_refuse_a_foreign_post(world, console, browser, foreign_page):
    from selenium.webdriver.common.by import By

    world.infoplus.known_skus = {10000: {"SKU-1"}}
    world.start_consumer("orders")
    [event_id] = world.post_shopify_order(shopify_order(order_id=8901, skus=["NEW-SKU"])).json()["event_ids"]
    world.read(DLQ, timeout=45)

    browser.get(f"{console}/side?topic={DLQ}")  # no login: the login form, nothing of the dead letters
    assert "/login" in browser.current_url and event_id not in browser.page_source
    browser.find_element(By.ID, "token").send_keys("wrong")
    browser.find_element(By.ID, "login").click()
    assert "not the token" in browser.find_element(By.ID, "error").text and event_id not in browser.page_source
    browser.find_element(By.ID, "token").send_keys(OPS_TOKEN)
    browser.find_element(By.ID, "login").click()
    eventually(lambda: browser.current_url.startswith(f"{console}/side"), 10, message="back where it was going")

    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-event-id="{event_id}"]')
    assert "answered 422" in row.find_element(By.CLASS_NAME, "reason").text
    assert "NEW-SKU" in row.find_element(By.CLASS_NAME, "reason").text

    world.infoplus.known_skus[10000].add("NEW-SKU")  # the cause is fixed
    pages, foreign = foreign_page
    pages["/attack"] = (f'<form id="f" method="post" action="{console}/replay">'
                        f'<input name="topic" value="{DLQ}"><input name="event_id" value="{event_id}"></form>'
                        f'<script>document.getElementById("f").submit()</script>').encode()
    browser.get(f"{foreign}/attack")  # the browser sends the console's session cookie along: same site, other origin
    eventually(lambda: "cross-origin request refused" in browser.page_source, 10, message="the refusal")
    time.sleep(1.5)
    assert world.infoplus.orders == []

    browser.get(f"{console}/side?topic={DLQ}&connection=101")
    browser.find_element(By.CSS_SELECTOR, f'input[type=checkbox][value="{event_id}"]').click()
    browser.find_element(By.ID, "replay").click()
    eventually(lambda: "/replay" in browser.current_url, 20, message="the replay's answer")
    assert "replayed 1" in browser.find_element(By.ID, "replay-summary").text
    assert f"replayed: event {event_id}" in browser.find_element(By.ID, "replay-lines").text

    [order] = eventually(lambda: world.infoplus.orders, 45, message="the replayed order in Infoplus")
    assert order["customerOrderNo"] == "101-8901"
    browser.get(f"{console}/consumers")
    assert "cart.orders" in browser.page_source
