"""A bad answer from one store never stops a polling pass for the others (issue 22, item 2).

Real stores on 127.0.0.1 answering 200 with HTML, an object instead of a list, rows that are not objects, and one
sound store; real Kafka for the events and the cursors.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from prometheus_client import REGISTRY

from config.connections import ConnectionRegistry
from consumers import order_polling
from consumers.woocommerce_reconcile import POLLED
from events import topics
from events.cursors import CursorStore
from events.publisher import Publisher
from sandbox.sample import woocommerce_order
from sandbox.woocommerce import wc_date
from tests.outbound.hostile import HostileServer, plain

ORDERS = "/wp-json/wc/v3/orders"
BAD_ANSWERS = {
    301: plain(200, b"<html><body>Maintenance</body></html>", content_type="text/html"),
    302: plain(200, json.dumps({"code": "ok", "orders": []}).encode()),
    303: plain(200, json.dumps(["1", 2, None, [3]]).encode()),
}
SOUND = 304


@pytest.fixture
def stores():
    server = HostileServer()
    yield server
    server.stop()


def woo_connection(connection_id: int, store_url: str) -> dict:
    return {"id": connection_id, "name": f"Woo {connection_id}", "platform": "woocommerce", "store_url": store_url,
            "lob_id": 10000, "order_source_id": 56, "warehouse_id": 1000, "default_carrier_id": 1,
            "webhook_secret": f"woo-webhook-secret-{connection_id}", "consumer_key": "ck_1",
            "consumer_secret": "cs_1", "sync_orders": True}


def test_bad_answers_are_counted_per_connection_and_the_pass_goes_on(world, stores, caplog):
    for connection_id, behaviour in BAD_ANSWERS.items():
        stores.answer(f"/{connection_id}{ORDERS}", behaviour)
    order = woocommerce_order(order_id=4001, date_modified_gmt=wc_date(datetime.now(timezone.utc)))
    stores.answer(f"/{SOUND}{ORDERS}", plain(200, json.dumps([order]).encode(), {"X-WP-TotalPages": "1"}))
    world.connections = [woo_connection(n, stores.url(f"/{n}")) for n in [*BAD_ANSWERS, SOUND]]
    world.write_connections()
    settings = world.settings()
    publisher = Publisher(settings)
    poller = order_polling.OrderPoller(POLLED, ConnectionRegistry(settings.connections_file), publisher,
                                       CursorStore(settings, POLLED.cursor_topic, publisher), timeout=(2.0, 5.0))
    try:
        assert poller.run_once() == 1
    finally:
        poller.close()

    [event] = world.read(topics.CART_ORDERS)
    assert event["connection_id"] == SOUND
    assert poller.bad_answers == {301: 1, 302: 1, 303: 1}
    assert [REGISTRY.get_sample_value("cartbridge_order_polling_bad_answers_total",
                                      {"platform": "woocommerce", "connection": str(n)}) for n in [*BAD_ANSWERS, SOUND]
            ] == [1.0, 1.0, 1.0, None]
    lines = [r.getMessage() for r in caplog.records if "not understood" in r.getMessage()]
    assert len(lines) == 3 and all(f"connection {n} " in line for n, line in zip(BAD_ANSWERS, lines))
