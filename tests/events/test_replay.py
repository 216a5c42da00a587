"""`cartbridge-replay` as ops run it (a real process) against a real broker and real orders consumer processes:
dead-lettered and skipped orders go back to `cart.orders` once the cause is fixed, and make one Infoplus order."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from events import topics
from events.publisher import Publisher
from sandbox.sample import shopify_order
from tests.support.kafka import ROOT, read_topic
from tests.support.world import eventually

DLQ = topics.dead_letters(topics.CART_ORDERS)
SKIPPED = topics.skipped(topics.CART_ORDERS)


def run_replay(world, *args: str, side_topic: str = DLQ) -> subprocess.CompletedProcess:
    env = world.environ() if world is not None else None
    result = subprocess.run([sys.executable, "-m", "events.replay", "--from", side_topic, *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=90)
    print(result.stdout, result.stderr[-2000:])  # shown when a test fails
    return result


def listed(result: subprocess.CompletedProcess, verb: str) -> list[str]:
    """The original event ids the replay printed under `verb` ("replayed", "would replay", "not replayable")."""
    prefix = f"{verb}: event "
    return sorted(line[len(prefix):].split()[0] for line in result.stdout.splitlines() if line.startswith(prefix))


def new_ids(result: subprocess.CompletedProcess) -> list[str]:
    return sorted(line.split(" as ")[1].split(";")[0] for line in result.stdout.splitlines()
                  if line.startswith("replayed: "))


def wait_for_orders(world, count: int, timeout: float = 45) -> list[dict]:
    return eventually(lambda: len(world.infoplus.orders) >= count and world.infoplus.orders, timeout,
                      message=f"{count} Infoplus orders")


def main_topic_records(world, expect: int) -> list:
    return read_topic(world.bootstrap, world.prefix + topics.CART_ORDERS, expect=expect, timeout=5)


def test_a_dead_lettered_order_replayed_once_its_item_exists_makes_exactly_one_infoplus_order(world):
    world.infoplus.known_skus = {10000: {"SKU-1"}}  # NEW-SKU is not in Infoplus yet: the order is refused (422)
    consumer = world.start_consumer("orders")
    world.post_shopify_order(shopify_order(order_id=7801, skus=["NEW-SKU"]))
    Publisher(world.settings()).publish_record(topics.CART_ORDERS, b"101:garbage", {"not": "an envelope"})
    dead = world.read(DLQ, expect=2, timeout=45)
    [refused] = [d for d in dead if d["event"]]
    old_id = refused["event"]["event_id"]
    assert "answered 422" in refused["reason"] and "NEW-SKU" in refused["reason"]  # the gist of Infoplus's answer

    dry = run_replay(world, "--dry-run")
    assert dry.returncode == 0
    assert listed(dry, "would replay") == [old_id] and listed(dry, "not replayable") == ["-"]
    assert "would replay 1" in dry.stdout and "not replayable 1" in dry.stdout
    time.sleep(1)
    assert len(main_topic_records(world, expect=3)) == 2, "a dry run publishes nothing"
    assert world.infoplus.orders == []

    world.infoplus.known_skus[10000].add("NEW-SKU")  # the cause is fixed: the item now exists in Infoplus
    first = run_replay(world)
    assert first.returncode == 0 and listed(first, "replayed") == [old_id]
    [created] = wait_for_orders(world, 1)
    assert created["customerOrderNo"] == "101-7801"

    original, _garbage, replayed = main_topic_records(world, expect=3)
    envelope = json.loads(replayed.value)
    assert replayed.key == original.key == b"101:7801"  # one order's events stay on one partition
    assert replayed.partition == original.partition
    assert [envelope["event_id"]] == new_ids(first) and envelope["event_id"] != old_id
    assert envelope["delivery"]["replay_of"] == old_id
    assert envelope["delivery"]["replayed_from"].startswith(f"{DLQ}@")
    assert envelope["payload"] == refused["event"]["payload"]

    second = run_replay(world)  # the same replay again publishes the same id, which the consumer drops
    assert second.returncode == 0 and new_ids(second) == new_ids(first)
    eventually(lambda: f"duplicate event_id={new_ids(first)[0]}" in consumer.output(), 30,
               message="the consumer drops the second replay as a duplicate")

    assert consumer.terminate(timeout=20) == 0  # a fresh process has no duplicate memory: Infoplus is the guard
    restarted = world.start_consumer("orders")
    assert run_replay(world).returncode == 0
    eventually(lambda: "already in Infoplus" in restarted.output(), 45,
               message="the restarted consumer finds the order in Infoplus")
    time.sleep(1)
    assert len(world.infoplus.orders) == 1


def test_filters_select_what_is_replayed_and_connection_replays_only_that_connections_orders(world):
    world.connections.append(world.shopify_connection(id=102, name="Beta Shopify", order_source_id=56,
                                                      webhook_secret="beta-shopify-webhook-secret"))
    world.write_connections()
    world.infoplus.known_skus = {10000: set()}
    world.start_consumer("orders")
    world.post_shopify_order(shopify_order(order_id=7901, skus=["NEW-SKU"]), connection_id=101)
    world.post_shopify_order(shopify_order(order_id=7902, skus=["NEW-SKU"]), connection_id=102,
                             secret="beta-shopify-webhook-secret")
    dead = world.read(DLQ, expect=2, timeout=45)
    ids = {d["event"]["connection_id"]: d["event"]["event_id"] for d in dead}
    assert sorted(ids) == [101, 102]

    assert listed(run_replay(world, "--dry-run", "--event-id", ids[101]), "would replay") == [ids[101]]
    assert listed(run_replay(world, "--dry-run", "--reason", "ANSWERED 422"), "would replay") == sorted(ids.values())
    assert listed(run_replay(world, "--dry-run", "--reason", "no such reason"), "would replay") == []
    assert listed(run_replay(world, "--dry-run", "--since", "2999-01-01T00:00:00Z"), "would replay") == []
    assert listed(run_replay(world, "--dry-run", "--since", "2000-01-01"), "would replay") == sorted(ids.values())
    assert len(listed(run_replay(world, "--dry-run", "--limit", "1"), "would replay")) == 1

    world.infoplus.known_skus[10000].add("NEW-SKU")
    result = run_replay(world, "--connection", "102")
    assert result.returncode == 0 and listed(result, "replayed") == [ids[102]]
    [created] = wait_for_orders(world, 1)
    assert created["customerOrderNo"] == "102-7902"
    time.sleep(2)
    assert [o["customerOrderNo"] for o in world.infoplus.orders] == ["102-7902"]


def test_a_skipped_order_replayed_after_sync_orders_is_turned_on_is_created_once(world):
    world.set_switch(101, "sync_orders", False)
    world.start_consumer("orders")
    world.post_shopify_order(shopify_order(order_id=8001))
    [skip] = world.read(SKIPPED, timeout=45)
    assert world.infoplus.orders == []

    world.set_switch(101, "sync_orders", True)
    time.sleep(2.5)  # the registry notices the file within connections_reload_seconds (2 s)
    first = run_replay(world, side_topic=SKIPPED)
    assert first.returncode == 0 and listed(first, "replayed") == [skip["event"]["event_id"]]
    [created] = wait_for_orders(world, 1)
    assert created["customerOrderNo"] == "101-8001"

    assert run_replay(world, side_topic=SKIPPED).returncode == 0
    time.sleep(2)
    assert len(world.infoplus.orders) == 1


def test_only_side_topics_of_known_main_topics_are_accepted():
    for name in ("cart.orders", "cart.orders.retry", "unknown.topic.dlq", "cart.orders.dlq.dlq"):
        result = run_replay(None, side_topic=name)
        assert result.returncode == 2 and "is not a side topic" in result.stderr, name


def test_inventory_side_topics_are_refused_for_the_resync():
    for name in ("infoplus.inventory.dlq", "infoplus.inventory.skipped"):
        result = run_replay(None, side_topic=name)
        assert result.returncode == 2 and "cartbridge-inventory-resync" in result.stderr, name
