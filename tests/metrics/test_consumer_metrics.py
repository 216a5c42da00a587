"""Events by outcome, outbound calls and lag, read from a real consumer process's METRICS_PORT."""
from __future__ import annotations

import requests

from events import topics
from sandbox.sample import shopify_order
from tests.support.metrics import samples, scrape, start_with_metrics, value
from tests.support.world import eventually

EVENTS = "cartbridge_events_handled_total"
OUTBOUND = "cartbridge_outbound_requests_total"
LAG = "cartbridge_consumer_lag"


def test_done_skipped_and_dead_lettered_count_under_their_reason(world):
    world.infoplus.known_skus = {10000: {"SKU-1"}}  # an order with another SKU is refused: 422
    _, metrics = start_with_metrics(world, "consumers.orders")

    world.post_shopify_order(shopify_order(order_id=8301, skus=["SKU-1"]))
    world.post_shopify_order(shopify_order(order_id=8302, skus=["NEW-SKU"]))
    world.post_shopify_order(shopify_order(order_id=8303, skus=["SKU-1"], financial_status="pending"))

    def counted() -> str | None:
        text = scrape(metrics + "/metrics")
        return text if value(text, EVENTS, kind="orders") >= 3 else None

    text = eventually(counted, 45, message="three events counted")
    assert value(text, EVENTS, kind="orders", connection="101", outcome="done") == 1
    assert value(text, EVENTS, kind="orders", connection="101", outcome="dead_lettered", reason="http_422") == 1
    assert value(text, EVENTS, kind="orders", connection="101", outcome="skipped", reason="unpaid") == 1
    assert value(text, "cartbridge_event_handling_duration_seconds_count", kind="orders") == 3
    assert value(text, OUTBOUND, api="infoplus", endpoint="order/search", method="GET", status="200") == 3
    assert value(text, OUTBOUND, api="infoplus", endpoint="order", method="POST", status="201") \
        + value(text, OUTBOUND, api="infoplus", endpoint="order", method="POST", status="200") == 1
    assert value(text, OUTBOUND, api="infoplus", endpoint="order", method="POST", status="422") == 1
    assert "NEW-SKU" not in text  # reasons are codes, never the text that names things
    [skip] = world.read(topics.skipped(topics.CART_ORDERS), timeout=5)
    assert skip["code"] == "unpaid"  # the same code on the side record, for ops to filter by


def test_429s_are_counted_and_lag_rises_while_the_consumer_is_stuck_then_falls(world):
    _, metrics = start_with_metrics(world, "consumers.orders")
    world.post_shopify_order(shopify_order(order_id=8400))
    eventually(lambda: value(scrape(metrics + "/metrics"), EVENTS, outcome="done") == 1, 45, message="first order")

    world.infoplus.fail_next(1000, status=429, retry_after=1)  # Infoplus throttles every call
    for n in range(1, 7):
        world.post_shopify_order(shopify_order(order_id=8400 + n))

    def lagging() -> float:
        return sum(v for labels, v in samples(scrape(metrics + "/metrics"), LAG)) >= 5

    eventually(lagging, 30, message="lag of the waiting events")
    text = scrape(metrics + "/metrics")
    assert {labels["group"] for labels, _ in samples(text, LAG)} == {world.prefix + "cartbridge.orders"}
    assert {labels["partition"] for labels, _ in samples(text, LAG)} <= {"0", "1", "2"}
    assert value(text, OUTBOUND, api="infoplus", status="429") >= 1
    assert value(text, EVENTS, outcome="retried", reason="http_429") >= 1

    world.infoplus.reset_faults()
    eventually(lambda: value(scrape(metrics + "/metrics"), EVENTS, outcome="done") == 7, 60, message="caught up")
    eventually(lambda: sum(v for _, v in samples(scrape(metrics + "/metrics"), LAG)) == 0, 20, message="lag 0")


def test_readyz_says_ready_once_the_consumer_holds_partitions_and_not_when_it_holds_none(world):
    world.overrides["KAFKA_TOPIC_PARTITIONS"] = "1"  # two copies, one partition: one of them has nothing to do
    _, first = start_with_metrics(world, "consumers.orders")
    eventually(lambda: _ready(first) == 200 and value(
        scrape(first + "/metrics"), "cartbridge_consumer_assigned_partitions") == 2, 30,  # cart.orders and its .retry
        message="first ready")
    _, second = start_with_metrics(world, "consumers.orders")
    # the group gives the one partition to either copy; the other, after 3 session timeouts (2 s in tests) without
    # a partition, is idle: not ready
    eventually(lambda: sorted([_ready(first) or 0, _ready(second) or 0]) == [200, 503], 30, message="one ready, one idle")
    idle = first if _ready(first) == 503 else second
    assert "no partitions" in requests.get(idle + "/readyz", timeout=5).json()["status"]
    assert requests.get(idle + "/healthz", timeout=5).status_code == 200


def _ready(base: str) -> int | None:
    try:
        return requests.get(base + "/readyz", timeout=5).status_code
    except requests.RequestException:  # not listening yet, or a loaded machine answering slowly
        return None
