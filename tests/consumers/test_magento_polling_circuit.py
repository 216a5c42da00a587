"""Issue 21, Magento polling's reads: a Magento store hanging past the read timeout, or answering 503 with a
Retry-After, costs one call before its connection's circuit opens; while open it is skipped, not called, and the
other stores are polled every pass; ops see it failing; when it is back, its orders are published after the back-off.
The poller is a real process; three Magento stand-ins on 127.0.0.1; the real broker."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from events import topics
from sandbox.magento import MagentoStandIn, magento_date
from tests.consumers.test_connection_outage import run_status
from tests.consumers.test_orders_magento import magento_connection
from tests.support.world import eventually

HEALTHY, HANGING, THROTTLED = 601, 602, 603
WAIT = 60
READ_TIMEOUT = 10  # Settings.http_read_timeout_seconds: the hanging store answers after it
WINDOW = 20  # seconds watched after both failing stores' first calls (back-offs: 30 s): many passes, one call each
HEALTHY_WITHIN = 10  # seconds (each look at the topic takes ~2 s): a pass every second, not one per read timeout


def published(world) -> set[tuple[int, str]]:
    """(connection, cart order id) of every order event the poller published so far."""
    return {(event["connection_id"], str(event["payload"]["cart_order_id"]))
            for event in world.read(topics.CART_ORDERS, expect=0, timeout=2)}


def calls_begun(store: MagentoStandIn) -> int:
    return len(store.calls) + store.in_flight  # answered, and still hanging


def test_a_failing_store_is_called_once_then_skipped_while_the_others_are_polled_every_pass(world):
    world.overrides.update({"MAGENTO_POLL_SECONDS": "1", "CONNECTION_RETRY_MAX_SECONDS": "40"})
    with MagentoStandIn() as healthy, MagentoStandIn() as hanging, MagentoStandIn() as throttled:
        world.connections = [magento_connection(healthy, HEALTHY), magento_connection(hanging, HANGING),
                             magento_connection(throttled, THROTTLED)]
        world.write_connections()
        now = magento_date(datetime.now(timezone.utc))
        for store in (healthy, hanging, throttled):
            store.add_order(5001, "processing", updated_at=now)
        hanging.delay(READ_TIMEOUT + 80, r"/orders$")  # still in flight through the window: one call, counted
        throttled.fail_next(1_000_000, status=503, retry_after=30, path_regex=r"/orders$")
        poller = world.start_consumer("magento_orders")

        eventually(lambda: (HEALTHY, "5001") in published(world), WAIT, message="the healthy store's order")
        eventually(lambda: calls_begun(hanging) >= 1 and calls_begun(throttled) >= 1, WAIT,
                   message="both failing stores called")
        watched = time.monotonic()
        healthy.add_order(5002, "processing", updated_at=magento_date(datetime.now(timezone.utc)))
        eventually(lambda: (HEALTHY, "5002") in published(world), HEALTHY_WITHIN,
                   message="the healthy store polled on, not once a read timeout")
        print(f"the healthy store's new order published {time.monotonic() - watched:.1f} s after it was added")
        time.sleep(max(0.0, WINDOW - (time.monotonic() - watched)))
        assert calls_begun(hanging) == 1, "a hanging store: one read timeout, then skipped until its back-off"
        assert calls_begun(throttled) == 1, "a store asking to wait: not called before its Retry-After"
        assert healthy.count("GET", r"/orders$") >= 5, "the healthy store polled pass after pass"
        assert "skipped: its store has been failing since" in poller.output()

        status = run_status(world)
        assert f"connection {HANGING} magento_polling: failing since" in status, status
        assert f"connection {THROTTLED} magento_polling: failing since" in status and "503" in status, status
        assert f"connection {HEALTHY} magento_polling" not in status, status

        hanging.delay(0)
        throttled.reset_faults()
        eventually(lambda: {(HANGING, "5001"), (THROTTLED, "5001")} <= published(world), WAIT,
                   message="the recovered stores' orders published after their back-off")
