"""One merchant's broken cart never holds up another's flow (issue 21), with real consumer processes, the real
broker and real stand-ins: Shopify (connection 101) and WooCommerce (connection 202) share one LOB, and every
partition holds events of both. WooCommerce fails (503, hangs, 429 with Retry-After, for hours); Shopify's
shipments and levels land meanwhile, and WooCommerce's land once, in order, when it is back."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
from kafka.partitioner.default import murmur2

from events import topics
from tests.consumers.test_inventory import T0, publish, use_connections, woo_connection, woo_stock
from tests.consumers.tracking_support import LOB, PUSH_SECRET, WAIT, dead_letters, infoplus_order, push
from tests.support.cart_orders import WOO_ID, bc, woo  # noqa: F401  (fixtures)
from tests.support.kafka import ROOT
from tests.support.ops import console  # noqa: F401  (fixture)
from tests.support.world import eventually

PARTITIONS = 3
WOO_SOURCE = 56
HEALTHY_WITHIN = 20  # seconds: "a few seconds", with room for a loaded machine (the measured figure is printed)


@pytest.fixture
def world(world):
    world.overrides.update({"CONNECTION_RETRY_MAX_SECONDS": "2", "INFOPLUS_WEBHOOK_SECRET": PUSH_SECRET})
    return world


def partition_of(key: str, partitions: int = PARTITIONS) -> int:
    """Where the publisher's default partitioner puts a key (kafka-python: murmur2, as Java's client)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


# -- tracking ----------------------------------------------------------------------------------------------------
def tracking_on_both(world) -> None:
    for connection in world.connections:
        if connection["id"] in (101, WOO_ID):
            connection["sync_tracking_data"] = True
    world.write_connections()


def shopify_carton(world, cart_order_id: int) -> dict:
    world.shopify.add_order(cart_order_id, [{"sku": "SKU-1", "quantity": 1}])
    order = infoplus_order(world, cart_order_id, {"SKU-1": 1})
    return world.infoplus.add_shipment(order["orderNo"], f"1ZSHOP{cart_order_id}", "UPS")


def woo_carton(world, woo, cart_order_id: int) -> dict:  # noqa: F811
    woo.add_order(cart_order_id, line_items=[{"sku": "SKU-1", "quantity": 1}])
    order = infoplus_order(world, cart_order_id, {"SKU-1": 1}, connection_id=WOO_ID, order_source_id=WOO_SOURCE)
    return world.infoplus.add_shipment(order["orderNo"], f"1ZWOO{cart_order_id}", "UPS")


def carton_partitions(cartons: list[dict]) -> set[int]:
    return {partition_of(f"{LOB}:{int(float(carton['orderNo']))}") for carton in cartons}


def cartons_of_both(world, woo, count: int = 6) -> tuple[list[int], list[dict], list[int], list[dict]]:  # noqa: F811
    """At least `count` WooCommerce and `count` Shopify orders, one carton each, until both cover every partition
    (order numbers are the stand-in's, so the same every run)."""
    woo_ids, woo_cartons, shop_ids, shop_cartons = [], [], [], []
    while len(woo_ids) < count or len(shop_ids) < count or not (
            carton_partitions(woo_cartons) == carton_partitions(shop_cartons) == set(range(PARTITIONS))):
        woo_ids.append(700 + len(woo_ids))
        woo_cartons.append(woo_carton(world, woo, woo_ids[-1]))
        shop_ids.append(800 + len(shop_ids))
        shop_cartons.append(shopify_carton(world, shop_ids[-1]))
    return woo_ids, woo_cartons, shop_ids, shop_cartons


def started(world, kind: str = "tracking"):
    consumer = world.start_consumer(kind)
    eventually(lambda: "assigned [" in consumer.output() and ".retry[" in consumer.output(), WAIT,
               message=f"{kind} consumer assigned its partitions")
    return consumer


def shopify_fulfilled(world, order_ids: list[int]) -> bool:
    return all(world.shopify.fulfillments(order_id) for order_id in order_ids)


def woo_completed(woo, order_ids: list[int]) -> bool:  # noqa: F811
    return all(woo.order(order_id)["status"] == "completed" for order_id in order_ids)


def emails(woo, order_id: int, template: str) -> int:  # noqa: F811
    return sum(1 for e in woo.emails if e["order_id"] == order_id and e["template"] == template)


def assert_each_landed_once(world, woo, woo_ids: list[int], shop_ids: list[int]) -> None:  # noqa: F811
    time.sleep(2)  # a second write, by a retry or another copy, would have landed by now
    for order_id in shop_ids:
        assert len(world.shopify.fulfillments(order_id)) == 1, f"Shopify order {order_id}"
    for order_id in woo_ids:
        assert emails(woo, order_id, "customer_note") == 1, f"WooCommerce order {order_id}: one tracking note"
        assert emails(woo, order_id, "customer_completed_order") == 1, f"WooCommerce order {order_id} completed once"


def test_a_cart_answering_503_delays_only_its_own_shipments_which_land_once_it_recovers(world, woo):  # noqa: F811
    tracking_on_both(world)
    woo_ids, woo_cartons, shop_ids, shop_cartons = cartons_of_both(world, woo)
    woo.fail_next(1_000_000, status=503)
    started(world)

    push(world, *woo_cartons)  # at the head of every partition
    pushed = time.monotonic()
    push(world, *shop_cartons)

    eventually(lambda: shopify_fulfilled(world, shop_ids), HEALTHY_WITHIN, message="Shopify's shipments land")
    print(f"Shopify's {len(shop_ids)} shipments landed {time.monotonic() - pushed:.1f} s after the push, WooCommerce answering 503")
    assert not any(woo.order(order_id)["status"] == "completed" for order_id in woo_ids)

    woo.reset_faults()
    recovered = time.monotonic()
    eventually(lambda: woo_completed(woo, woo_ids), WAIT, message="WooCommerce's shipments land after recovery")
    print(f"WooCommerce's {len(woo_ids)} shipments landed {time.monotonic() - recovered:.1f} s after it recovered")
    assert_each_landed_once(world, woo, woo_ids, shop_ids)
    assert dead_letters(world, expect=0) == []


def test_a_hanging_cart_costs_a_timeout_or_two_not_one_per_event(world, woo):  # noqa: F811
    world.overrides["CONNECTION_RETRY_MAX_SECONDS"] = "5"
    tracking_on_both(world)
    woo_ids, woo_cartons, shop_ids, shop_cartons = cartons_of_both(world, woo)
    woo.delay(15, r"/orders/\d+$")  # past the 10 s read timeout: every tracking write begins with this read
    started(world)

    push(world, *woo_cartons)
    pushed = time.monotonic()
    push(world, *shop_cartons)

    eventually(lambda: shopify_fulfilled(world, shop_ids), 40, message="Shopify's shipments land")
    print(f"Shopify's shipments landed {time.monotonic() - pushed:.1f} s after the push, WooCommerce hanging")
    started_calls = len(woo.calls) + woo.in_flight  # answered, and still hanging
    assert started_calls <= 3, f"{started_calls} calls: the circuit opens at the first timeout, not one per event"

    woo.delay(0)
    eventually(lambda: woo_completed(woo, woo_ids), WAIT, message="WooCommerce's shipments land after recovery")
    assert_each_landed_once(world, woo, woo_ids, shop_ids)


def test_a_429_with_retry_after_makes_only_that_connection_wait_as_told(world, woo):  # noqa: F811
    world.overrides.update({"CONNECTION_RETRY_MAX_SECONDS": "30", "KAFKA_TOPIC_PARTITIONS": "1"})
    tracking_on_both(world)
    woo_ids, shop_ids = [711, 712, 713], [811, 812, 813]
    woo_cartons = [woo_carton(world, woo, order_id) for order_id in woo_ids]
    shop_cartons = [shopify_carton(world, order_id) for order_id in shop_ids]
    woo.fail_next(1, status=429, retry_after=8)
    started(world)

    push(world, *woo_cartons)  # one partition: WooCommerce's shipments first, Shopify's behind them
    push(world, *shop_cartons)
    eventually(lambda: any(call.status == 429 for call in woo.calls), WAIT, message="WooCommerce throttles")
    throttled = time.monotonic()

    eventually(lambda: shopify_fulfilled(world, shop_ids), 6, message="Shopify's shipments land within 6 s")
    assert len(woo.calls) == 1, "no WooCommerce call while it asked us to wait"
    eventually(lambda: woo_completed(woo, woo_ids), WAIT, message="WooCommerce's shipments land after the wait")
    waited = time.monotonic() - throttled
    print(f"WooCommerce's shipments landed {waited:.1f} s after its 429 (Retry-After: 8)")
    assert waited >= 7
    assert_each_landed_once(world, woo, woo_ids, shop_ids)


def test_copies_joining_and_leaving_and_a_sigkill_while_parked_lose_nothing_and_double_nothing(world, woo):  # noqa: F811
    tracking_on_both(world)
    woo_ids, woo_cartons, shop_ids, shop_cartons = cartons_of_both(world, woo)
    woo.fail_next(1_000_000, status=503)
    first = started(world)
    push(world, *woo_cartons)
    eventually(lambda: first.output().count("parked event_id=") >= len(woo_ids), WAIT, message="all parked")

    second = world.start_consumer("tracking")  # joins while WooCommerce's shipments are parked
    eventually(lambda: "assigned [" in second.output() and first.output().count(": assigned [") >= 2, WAIT,
               message="the second copy joined")
    push(world, *shop_cartons)
    eventually(lambda: shopify_fulfilled(world, shop_ids), WAIT, message="Shopify's shipments land with two copies")
    assert second.terminate() == 0  # leaves
    eventually(lambda: first.output().count(": assigned [") >= 3, WAIT, message="partitions back with the first")
    time.sleep(1)
    first.kill()  # SIGKILL while parked: no commit, no goodbye
    started(world)

    woo.reset_faults()
    eventually(lambda: woo_completed(woo, woo_ids), WAIT, message="every parked shipment lands after recovery")
    assert_each_landed_once(world, woo, woo_ids, shop_ids)
    assert dead_letters(world, expect=0) == []


def run_replay(world, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "events.replay", *args], cwd=ROOT, env=world.environ(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_cart_failing_past_the_outage_bound_gets_its_events_dead_lettered_and_replay_delivers_them(world, woo):  # noqa: F811,E501
    world.overrides["CONNECTION_OUTAGE_DEAD_LETTER_HOURS"] = "0.002"  # 7.2 s
    tracking_on_both(world)
    woo_ids, shop_ids = [721, 722], [821]
    woo_cartons = [woo_carton(world, woo, order_id) for order_id in woo_ids]
    shop_cartons = [shopify_carton(world, order_id) for order_id in shop_ids]
    woo.fail_next(1_000_000, status=503)
    started(world)

    woo_events = push(world, *woo_cartons)
    push(world, *shop_cartons)
    eventually(lambda: shopify_fulfilled(world, shop_ids), HEALTHY_WITHIN, message="Shopify's shipment lands")

    letters = dead_letters(world, expect=2)
    assert sorted(letter["event"]["event_id"] for letter in letters) == sorted(woo_events)
    for letter in letters:
        assert "connection 202's cart has been failing since" in letter["reason"] and "503" in letter["reason"]
        assert letter["error"]["connection_id"] == WOO_ID and letter["error"]["failing_since"]
        assert letter["source"]["topic"] == world.prefix + topics.INFOPLUS_SHIPMENTS
    assert not any(woo.order(order_id)["status"] == "completed" for order_id in woo_ids)

    woo.reset_faults()
    run_replay(world, "--from", topics.dead_letters(topics.INFOPLUS_SHIPMENTS), "--reason", "has been failing since")
    eventually(lambda: woo_completed(woo, woo_ids), WAIT, message="the replayed shipments land")
    assert_each_landed_once(world, woo, woo_ids, shop_ids)


def test_an_early_carton_parked_behind_a_broken_connections_events_lands_when_due(world, woo):  # noqa: F811
    world.overrides.update({"KAFKA_TOPIC_PARTITIONS": "1", "DEFER_FIRST_DELAY_SECONDS": "0.5",
                            "DEFER_MAX_DELAY_SECONDS": "1", "CONNECTION_RETRY_MAX_SECONDS": "120"})
    tracking_on_both(world)
    woo_cartons = [woo_carton(world, woo, order_id) for order_id in (731, 732, 733)]
    woo.fail_next(1_000_000, status=429, retry_after=120)  # parked for two minutes, at the retry partition's head
    world.shopify.add_order(831, [{"sku": "SKU-1", "quantity": 1}])
    early_order = infoplus_order(world, 831, {"SKU-1": 1})
    early = world.infoplus.add_shipment(early_order["orderNo"], "1ZEARLY831", "UPS", line_items={})
    consumer = started(world)

    push(world, *woo_cartons)
    eventually(lambda: consumer.output().count("parked event_id=") >= 3, WAIT, message="WooCommerce's parked")
    push(world, early)
    eventually(lambda: "deferred event_id=" in consumer.output(), WAIT, message="the early carton waits")
    world.infoplus.ship_order_lines(early_order["orderNo"], {"SKU-1": 1})
    shipped = time.monotonic()

    eventually(lambda: world.shopify.fulfillments(831), 20, message="the early carton lands soon after it is due")
    print(f"the early carton landed {time.monotonic() - shipped:.1f} s after its order shipped")
    assert len(woo.calls) == 1, "WooCommerce is not called again before its Retry-After"


# -- inventory ---------------------------------------------------------------------------------------------------
SKUS = [f"SKU-{letter}" for letter in "ABCDEF"]


def shopify_and_a_failing_woocommerce_on_one_lob(world, woo) -> None:  # noqa: F811
    """SKUS in both carts at 0, every partition holding some; Shopify syncs inventory, WooCommerce answers 503."""
    assert {partition_of(f"{LOB}:{sku}") for sku in SKUS} == set(range(PARTITIONS))
    for sku in SKUS:
        world.shopify.add_variant(sku, quantity=0)
        woo.add_product(sku, stock_quantity=0)
    use_connections(world, world.shopify_connection(sync_inventory=True), woo_connection(woo, WOO_ID))
    woo.fail_next(1_000_000, status=503)


def test_a_cart_answering_503_delays_only_its_own_levels_and_the_latest_level_lands_when_it_is_back(world, woo):  # noqa: F811,E501
    shopify_and_a_failing_woocommerce_on_one_lob(world, woo)
    topics.ensure_topics(world.settings(), [topics.INFOPLUS_INVENTORY])
    from events.publisher import Publisher
    publisher = Publisher(world.settings())
    started(world, "inventory")

    for n in range(300):  # a stocktake first: more than one poll batch per partition (no cart sells these)
        publish(publisher, f"STOCKTAKE-{n:03d}", n)
    pushed = time.monotonic()
    for n, sku in enumerate(SKUS):
        publish(publisher, sku, 10 + n, at=T0)
    eventually(lambda: all(world.shopify.available(sku) == 10 + n for n, sku in enumerate(SKUS)), HEALTHY_WITHIN * 2,
               message="Shopify shows the first levels")
    print(f"Shopify's levels landed {time.monotonic() - pushed:.1f} s after the push, behind 300 stocktake events")
    for n, sku in enumerate(SKUS):
        publish(publisher, sku, 20 + n, at=T0 + timedelta(minutes=1))
    eventually(lambda: all(world.shopify.available(sku) == 20 + n for n, sku in enumerate(SKUS)), HEALTHY_WITHIN,
               message="Shopify shows the second levels")
    assert all(woo_stock(woo, sku) == 0 for sku in SKUS)

    woo.reset_faults()
    recovered = time.monotonic()
    eventually(lambda: all(woo_stock(woo, sku) == 20 + n for n, sku in enumerate(SKUS)), WAIT,
               message="WooCommerce shows the latest levels")
    print(f"WooCommerce's levels landed {time.monotonic() - recovered:.1f} s after it recovered")
    time.sleep(3)  # an older parked level applied after the newer one would show now
    assert all(woo_stock(woo, sku) == 20 + n for n, sku in enumerate(SKUS))
    assert world.read(topics.dead_letters(topics.INFOPLUS_INVENTORY), expect=0, timeout=2) == []
    publisher.close()


# -- what ops see ------------------------------------------------------------------------------------------------
def test_ops_see_the_failing_cart_its_waiting_events_and_its_recovery(world, woo, console):  # noqa: F811
    from tests.support.kafka import free_port
    from tests.support.metrics import scrape, value
    from tests.support.ops import OPS_TOKEN
    import requests

    port = free_port()
    world.overrides["METRICS_PORT"] = str(port)
    tracking_on_both(world)
    woo_ids = [741, 742, 743]
    woo_cartons = [woo_carton(world, woo, order_id) for order_id in woo_ids]
    woo.fail_next(1_000_000, status=503)
    started(world)
    push(world, *woo_cartons)

    metrics = f"http://127.0.0.1:{port}/metrics"
    labels = {"flow": "tracking", "connection": str(WOO_ID)}
    eventually(lambda: value(scrape(metrics), "cartbridge_connection_parked_events", **labels) == 3, WAIT,
               message="three events waiting for connection 202")
    assert value(scrape(metrics), "cartbridge_connection_circuit_open", **labels) == 1
    assert value(scrape(metrics), "cartbridge_connection_circuit_open", flow="tracking", connection="101") == 0

    status = eventually(lambda: (out := run_status(world)) and "3 events waiting" in out and out, WAIT,
                        message="cartbridge-status shows the failing cart")
    assert f"connection {WOO_ID} tracking: failing since" in status and "503" in status

    headers = {"Authorization": f"Bearer {OPS_TOKEN}"}
    page = requests.get(console + "/", headers=headers, timeout=20).text
    card = page[page.index(f'id="connection-{WOO_ID}"'):]
    assert '<tr class="health-failing"><td>tracking</td>' in card and "failing since" in card and "503" in card
    assert woo.consumer_secret not in page and woo.consumer_key not in page

    woo.reset_faults()
    eventually(lambda: woo_completed(woo, woo_ids), WAIT, message="recovered")
    eventually(lambda: value(scrape(metrics), "cartbridge_connection_circuit_open", **labels) == 0, WAIT,
               message="the circuit shows closed")
    assert value(scrape(metrics), "cartbridge_connection_parked_events", **labels) == 0
    eventually(lambda: "0 failing" in run_status(world), WAIT, message="cartbridge-status shows it healthy")


def run_status(world) -> str:
    result = subprocess.run([sys.executable, "-m", "ops.status"], cwd=ROOT, env=world.environ(), capture_output=True,
                            text=True, timeout=120)
    return result.stdout


# -- orders: the cart reads of thin webhooks ---------------------------------------------------------------------
def spread(connection_id: int, first: int, per_partition: int = 2) -> list[int]:
    """Cart order ids from `first` on, `per_partition` in each partition of cart.orders (keyed `<connection>:<id>`)."""
    chosen: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    order_id = first
    while any(len(ids) < per_partition for ids in chosen.values()):
        bucket = chosen[partition_of(f"{connection_id}:{order_id}")]
        if len(bucket) < per_partition:
            bucket.append(order_id)
        order_id += 1
    return sorted(n for ids in chosen.values() for n in ids)


def test_a_bigcommerce_store_failing_its_order_reads_delays_only_its_own_orders(world, bc):  # noqa: F811
    from sandbox.sample import shopify_order
    from tests.support.cart_orders import BC_ID, infoplus_orders, post_bc

    bc_ids, shop_ids = spread(BC_ID, 2101), spread(101, 8301)
    for order_id in bc_ids:
        bc.add_order(order_id=order_id)
    bc.fail_next(1_000_000, status=503, path_regex=r"/v2/orders/")
    started(world, "orders")

    for order_id in bc_ids:  # thin webhooks: the consumer reads each order from the store, which answers 503
        assert post_bc(world, order_id).status_code == 202
    pushed = time.monotonic()
    for order_id in shop_ids:
        assert world.post_shopify_order(shopify_order(order_id=order_id)).status_code == 202

    eventually(lambda: all(infoplus_orders(world, 101, n) for n in shop_ids), HEALTHY_WITHIN,
               message="Shopify's orders reach Infoplus")
    print(f"Shopify's orders reached Infoplus {time.monotonic() - pushed:.1f} s after the push, BigCommerce failing")
    assert not any(infoplus_orders(world, BC_ID, n) for n in bc_ids)

    bc.reset_faults()
    eventually(lambda: all(infoplus_orders(world, BC_ID, n) for n in bc_ids), WAIT,
               message="BigCommerce's orders reach Infoplus after recovery")
    time.sleep(2)
    assert all(len(infoplus_orders(world, BC_ID, n)) == 1 for n in bc_ids)
    assert all(len(infoplus_orders(world, 101, n)) == 1 for n in shop_ids)
