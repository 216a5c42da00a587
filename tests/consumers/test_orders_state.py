"""The orders consumer on its state store (consumers/state.py, consumers/order_state.py), real broker, real
processes, the Infoplus stand-in enforcing 3 requests/s: one Infoplus call per order, nothing doubled — across
SIGKILL, rebalances, a deleted state topic and an upgrade from a consumer without the store."""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from kafka import KafkaAdminClient
from kafka.admin import NewPartitions

from events import topics
from infoplus.orders import build_order
from sandbox.sample import shopify_order
from schemas.connection import ConnectionSchema
from schemas.shopify import ShopifyOrderSchema
from tests.support.world import eventually

WAIT = 90
LIMIT = 3  # Infoplus: about 3 requests/s per API user


def lifecycle(order_id: int, created: datetime) -> list[tuple[str, dict]]:
    """A Shopify order's ordinary life: orders/create and orders/paid together, then two orders/updated."""
    order = shopify_order(order_id=order_id)

    def version(seconds: int, **changes) -> dict:
        stamp = (created + timedelta(seconds=seconds)).isoformat(timespec="seconds")
        return {**order, "created_at": created.isoformat(timespec="seconds"), "updated_at": stamp, **changes}

    return [("orders/create", version(0)), ("orders/paid", version(1)),
            ("orders/updated", version(2, tags="vip")), ("orders/updated", version(3, note="gift wrap"))]


def post_lifecycles(world, ids: list[int], created: datetime | None = None) -> None:
    created = created or datetime.now(timezone.utc)
    for order_id in ids:
        for topic, body in lifecycle(order_id, created):
            assert world.post_shopify_order(body, topic=topic).status_code == 202


def created_orders(world) -> Counter:
    return Counter(order["customerOrderNo"] for order in world.infoplus.orders)


def wait_all_created(world, ids: list[int], timeout: float = WAIT) -> None:
    expected = {f"101-{order_id}": 1 for order_id in ids}
    eventually(lambda: created_orders(world) == expected or len(world.infoplus.orders) > len(ids), timeout,
               message=f"every order once; have {len(world.infoplus.orders)}")
    time.sleep(1.5)  # later events are handled too; a duplicate would show now
    assert created_orders(world) == expected


def restored(consumer, partitions: int = 3) -> bool:
    """Every partition's state is read back, and a second has passed: carts stamp orders to the second, and one
    created within the store's first second may predate it (it would be looked up first)."""
    if consumer.output().count("restored:") < partitions:
        return False
    time.sleep(1.1)
    return True


def searches(world) -> list[str]:
    return [call.query.get("filter", "") for call in world.infoplus.calls
            if call.method == "GET" and call.path.endswith("order/search") and call.status != 429]


def infoplus_answers(world) -> int:
    return sum(1 for call in world.infoplus.calls if call.status != 429)


def test_the_four_webhook_lifecycle_costs_one_infoplus_call_per_order(world):
    world.infoplus.rate_limit(LIMIT)
    world.overrides["INFOPLUS_CALLS_PER_SECOND"] = str(LIMIT)
    consumer = world.start_consumer("orders")
    eventually(lambda: restored(consumer), WAIT, message="state restored")
    ids = list(range(9001, 9021))

    post_lifecycles(world, ids)

    wait_all_created(world, ids)
    calls = infoplus_answers(world)
    print(f"{len(ids)} orders x 4 webhooks: {calls} Infoplus calls ({calls / len(ids):.2f} per order), "
          f"{world.infoplus.throttled} answers of 429")
    assert calls / len(ids) <= 1.1
    assert searches(world) == []  # new orders are created without a search


def test_sigkill_mid_burst_then_restart_no_duplicate_and_only_in_doubt_orders_are_searched(world):
    world.infoplus.delay(0.3, r"/order$")  # the crash lands between an intent and its outcome
    first = world.start_consumer("orders")
    eventually(lambda: restored(first), WAIT, message="state restored")
    ids = list(range(9101, 9131))
    post_lifecycles(world, ids)
    # killed while a POST /order is being answered (held 0.3 s before the stand-in records it), not between two
    eventually(lambda: len(world.infoplus.orders) >= 5 and world.infoplus.in_flight > 0, WAIT, interval=0.01,
               message="some orders created and one being created")
    first.kill()
    made_before = set(created_orders(world))

    second = world.start_consumer("orders")
    wait_all_created(world, ids)

    searched = {f.split("'")[1] for f in searches(world) if "customerOrderNo" in f}
    assert searched, "an order in doubt (intent, no outcome) must be searched before it is created"
    # in doubt: at most the events in flight at the kill — one connection's, so its cap (CONNECTION_MAX_IN_FLIGHT 4)
    assert len(searched) <= 4, searched
    assert searched <= made_before | {f"101-{i}" for i in ids}
    assert "restored:" in second.output()


def test_two_copies_and_a_rebalance_mid_burst_make_no_duplicate(world):
    world.infoplus.delay(0.1, r"/order$")
    first = world.start_consumer("orders")
    eventually(lambda: restored(first), WAIT, message="state restored")
    ids = list(range(9201, 9231))
    post_lifecycles(world, ids[:15])
    eventually(lambda: len(world.infoplus.orders) >= 3, WAIT, message="some orders created")
    second = world.start_consumer("orders")  # joins mid-burst: partitions move, their state is restored there
    post_lifecycles(world, ids[15:])
    time.sleep(2)
    assert first.terminate() == 0  # leaves mid-burst: its partitions move back
    wait_all_created(world, ids)
    assert "restored:" in second.output()


def test_a_state_topic_deleted_by_ops_makes_the_consumer_search_first_and_nothing_doubles(world):
    first = world.start_consumer("orders")
    eventually(lambda: restored(first), WAIT, message="state restored")
    ids = list(range(9301, 9306))
    post_lifecycles(world, ids)
    wait_all_created(world, ids)
    assert first.terminate() == 0
    admin = KafkaAdminClient(bootstrap_servers=world.bootstrap)
    admin.delete_topics([world.prefix + topics.state(topics.CART_ORDERS)])
    admin.close()
    time.sleep(1)

    world.start_consumer("orders")
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    for order_id in ids:  # edits of the same orders, and they are paid and known nowhere but in Infoplus
        body = {**shopify_order(order_id=order_id), "updated_at": later.isoformat(timespec="seconds"),
                "created_at": (later - timedelta(hours=1)).isoformat(timespec="seconds")}
        world.post_shopify_order(body, topic="orders/updated")

    eventually(lambda: len(searches(world)) >= len(ids), WAIT, message="each order looked up")
    time.sleep(1.5)
    assert created_orders(world) == {f"101-{order_id}": 1 for order_id in ids}


def test_partitions_added_to_the_input_by_ops_are_added_to_the_state_topic_at_the_next_start(world):
    """Ops scale the orders consumer past the partition count: the state topic must follow, or every state write
    for an order on a new partition fails and those orders stall."""
    first = world.start_consumer("orders")
    eventually(lambda: restored(first), WAIT, message="state restored")
    assert first.terminate() == 0
    admin = KafkaAdminClient(bootstrap_servers=world.bootstrap)
    admin.create_partitions({world.prefix + topics.CART_ORDERS: NewPartitions(total_count=6)})

    second = world.start_consumer("orders")
    ids = list(range(9501, 9513))  # the web producer starts now: it spreads these over all six partitions
    post_lifecycles(world, ids)

    wait_all_created(world, ids)
    state = admin.describe_topics([world.prefix + topics.state(topics.CART_ORDERS)])[0]
    admin.close()
    assert len(state["partitions"]) == 6
    assert "partitions added" in second.output()
    assert created_orders(world) == {f"101-{order_id}": 1 for order_id in ids}


def test_an_upgrade_from_a_consumer_without_the_store_makes_no_duplicate(world):
    """Orders the old consumer (no state store) created; their updates reach the new one."""
    created = datetime.now(timezone.utc) - timedelta(hours=2)  # before this store began
    ids = list(range(9401, 9406))
    connection = ConnectionSchema().load(world.connections[0])
    for order_id in ids:  # exactly what the old consumer made from the order's first version
        first_version = ShopifyOrderSchema().load(lifecycle(order_id, created)[0][1])
        world.infoplus.add_order(build_order(connection, first_version))
    consumer = world.start_consumer("orders")
    eventually(lambda: restored(consumer), WAIT, message="state restored")

    post_lifecycles(world, ids, created=created)

    eventually(lambda: consumer.output().count("event_id=") >= 4 * len(ids), WAIT, message="every event handled")
    time.sleep(1)
    assert created_orders(world) == {f"101-{order_id}": 1 for order_id in ids}
    assert len(searches(world)) == len(ids)  # each looked up once, then known
