"""The ops console over HTTP against a real broker: login, dead letters with replay, consumers and lag, poller."""
from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

import pytest
import requests

from events import topics
from ops.cluster import Sample, scaling_hint
from sandbox.sample import shopify_order
from tests.support.ops import OPS_TOKEN, form_token, logged_in
from tests.support.world import eventually

DLQ = topics.dead_letters(topics.CART_ORDERS)


def test_nothing_is_shown_or_done_without_the_token(world, console):
    page = requests.get(console + "/consumers", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert requests.get(console + "/", timeout=10).url.startswith(console + "/login")  # the form, nothing else
    assert "Acme Shopify" not in requests.get(console + "/", timeout=10).text
    wrong = requests.get(console + "/", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    refused = requests.post(console + "/replay", data={"topic": DLQ, "event_id": "x"}, headers={"Origin": console},
                            timeout=10)
    assert refused.status_code == 401
    bad_login = requests.post(console + "/login", data={"token": "guess"}, headers={"Origin": console}, timeout=10)
    assert bad_login.status_code == 401 and "not the token" in bad_login.text
    assert requests.get(console + "/healthz", timeout=10).status_code == 200


def test_create_app_refuses_to_start_without_ops_token(world, monkeypatch):
    from ops import create_app
    monkeypatch.delenv("OPS_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="OPS_TOKEN"):
        create_app(settings=world.settings())


def test_a_dead_letter_is_listed_with_its_reason_and_a_replay_creates_it_once_fixed(world, console):
    world.infoplus.known_skus = {10000: {"SKU-1"}}
    world.start_consumer("orders")
    [event_id] = world.post_shopify_order(shopify_order(order_id=8601, skus=["NEW-SKU"])).json()["event_ids"]
    world.read(DLQ, timeout=45)
    browser = logged_in(console)

    page = browser.get(console + "/side", params={"topic": DLQ, "connection": "101", "reason": "422"}, timeout=10)
    assert event_id in page.text and "answered 422" in page.text and "NEW-SKU" in page.text
    assert browser.get(console + "/side", params={"topic": DLQ, "connection": "202"}, timeout=10).text.count(
        'class="side-record"') == 0
    csrf = form_token(page.text)

    foreign = browser.post(console + "/replay", data={"csrf": csrf, "topic": DLQ, "event_id": event_id},
                           headers={"Origin": "http://evil.example"}, timeout=10)
    assert foreign.status_code == 403
    no_token = browser.post(console + "/replay", data={"topic": DLQ, "event_id": event_id},
                            headers={"Origin": console}, timeout=10)
    assert no_token.status_code == 403
    time.sleep(1)
    assert world.infoplus.orders == []

    world.infoplus.known_skus[10000].add("NEW-SKU")  # the cause is fixed
    done = browser.post(console + "/replay", data={"csrf": csrf, "topic": DLQ, "event_id": event_id},
                        headers={"Origin": console}, timeout=30)
    assert done.status_code == 200 and f"replayed: event {event_id}" in done.text
    assert "replayed 1" in done.text
    [order] = eventually(lambda: world.infoplus.orders, 45, message="the replayed order in Infoplus")
    assert order["customerOrderNo"] == "101-8601"


def test_inventory_side_topics_are_listed_but_not_replayable(world, console):
    page = requests.get(console + "/side", params={"topic": "infoplus.inventory.dlq"},
                        headers={"Authorization": f"Bearer {OPS_TOKEN}"}, timeout=10)
    assert page.status_code == 200 and "cartbridge-inventory-resync" in page.text and 'id="replay"' not in page.text
    refused = requests.post(console + "/replay", data={"topic": "infoplus.inventory.dlq", "event_id": "e"},
                            headers={"Authorization": f"Bearer {OPS_TOKEN}"}, timeout=10)
    assert refused.status_code == 400 and "cartbridge-inventory-resync" in refused.text


def test_connections_show_switches_their_source_and_counts_per_flow(world, console):
    world.set_switch(101, "sync_orders", False)
    world.start_consumer("orders")
    world.post_shopify_order(shopify_order(order_id=8701))
    world.read(topics.skipped(topics.CART_ORDERS), timeout=45)
    page = eventually(lambda: (text := requests.get(console + "/", headers={"Authorization": f"Bearer {OPS_TOKEN}"},
                                                    timeout=20).text) and "Sync Orders: off" in text and text,
                      10, message="the file's switch (re-read within 2 s)")
    assert "Acme Shopify" in page and "switches from file" in page
    assert '<td>orders</td>\n<td class="n">1 / 1</td>\n<td class="n">1 / 1</td>' in page, page


def test_consumers_page_and_cartbridge_status_show_members_and_lag_of_a_stopped_group(world, console, monkeypatch):
    consumer = world.start_consumer("orders")
    world.post_shopify_order(shopify_order(order_id=8801))
    eventually(lambda: world.infoplus.orders, 45, message="first order")
    headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
    page = eventually(lambda: (text := requests.get(console + "/consumers", headers=headers, timeout=20).text)
                      and "1 copies running" in text and text, 30, message="one member")
    assert "3 partitions of cart.orders" in page

    assert consumer.terminate() == 0
    for n in range(2, 5):
        world.post_shopify_order(shopify_order(order_id=8800 + n))
    page = eventually(lambda: (text := requests.get(console + "/consumers", headers=headers, timeout=20).text)
                      and "0 copies running" in text and text, 30, message="no member")
    assert '<div class="card" id="group-orders">' in page and "Lag <strong class=\"bad\">3</strong>" in page
    assert "no copy is running" in page

    for name, value in world.environ().items():
        monkeypatch.setenv(name, value)
    from ops import status
    out = io.StringIO()
    with redirect_stdout(out):
        code = status.main([])
    assert code == 1  # nothing consumes orders and no poller ran
    text = out.getvalue()
    assert "orders     group " + world.prefix + "cartbridge.orders" in text and "0 copies" in text and "lag 3" in text
    assert "poller     leader none" in text


def test_the_poller_page_names_the_leader_its_last_cycle_and_cursor_ages(world, console):
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.5"})
    world.start_poller()
    headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
    page = eventually(lambda: (text := requests.get(console + "/poller", headers=headers, timeout=20).text)
                      and "s ago, by" in text and text, 45, message="a cycle recorded")
    assert page.split('id="leader">')[1].split("<")[0] not in ("", "none")
    assert "shipments:all" in page and "inventory:all" in page  # one cursor per source, for every LOB (issue 23)


def test_the_scaling_hint_is_bounded_by_the_partition_count():
    def samples(end_rate: float, done_rate: float, seconds: float = 60) -> list[Sample]:
        return [Sample(0, 1000, 900), Sample(seconds, 1000 + int(end_rate * seconds), 900 + int(done_rate * seconds))]

    assert "run 3 copies (up to 3" in scaling_hint(1, 3, samples(10, 4))
    assert "even 3 copies" in scaling_hint(1, 3, samples(50, 4))
    assert scaling_hint(2, 3, samples(2, 3)) == "keeping up"
    assert "stuck" in scaling_hint(2, 3, samples(2, 0))
    assert "no copy is running" in scaling_hint(0, 3, samples(2, 0))
    assert "watching" in scaling_hint(1, 3, samples(2, 1, seconds=5))
