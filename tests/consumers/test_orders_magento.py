"""Magento orders end to end: the order poller (a real process) lists orders from the Magento stand-in (real
HTTP, OAuth 1.0a checked by the stand-in from RFC 5849) -> Kafka -> orders consumer (a real process) -> Infoplus
stand-in."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from events import topics
from sandbox.magento import MagentoStandIn, magento_date
from schemas.order import parse_version
from tests.support.cart_orders import WAIT, infoplus_orders, settle, skips, wait_for_order
from tests.support.world import eventually

MAGENTO_ID = 404


def magento_connection(store: MagentoStandIn, connection_id: int = MAGENTO_ID, *, oauth: bool = True,
                       **fields) -> dict:
    credentials = {"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret,
                   "access_token_secret": store.access_token_secret} if oauth else {}
    return {"id": connection_id, "name": "Acme Magento", "platform": "magento", "store_url": store.store_url,
            "lob_id": 10000, "order_source_id": 58, "warehouse_id": 1000, "default_carrier_id": 1,
            "access_token": store.access_token, "sync_orders": True, **credentials, **fields}


@pytest.fixture
def magento(world) -> Iterator[MagentoStandIn]:
    """A Magento store that refuses standalone bearer tokens (2.4.4+ default), polled every second as connection
    404 with the integration's four OAuth credentials."""
    with MagentoStandIn(bearer_allowed=False) as store:
        world.connections.append(magento_connection(store))
        world.write_connections()
        world.overrides["MAGENTO_POLL_SECONDS"] = "1"
        yield store


def minutes_ago(minutes: float) -> str:
    return magento_date(datetime.now(timezone.utc) - timedelta(minutes=minutes))


def start(world, *kinds: str) -> list:
    return [world.start_consumer(kind) for kind in kinds]


def test_a_paid_order_becomes_one_infoplus_order_over_oauth(world, magento):
    order = magento.add_order(1001, "processing", items=[{"sku": "SKU-1", "qty": 3, "price": 12.5},
                                                         {"sku": "SKU-2", "qty": 1, "price": 4.0}])
    start(world, "orders", "magento_orders")

    created = wait_for_order(world, MAGENTO_ID, 1001)
    assert created["customerOrderNo"] == "404-1001" and created["customerPONo"] == "#000001001"
    assert (created["lobId"], created["orderSourceId"], created["warehouseId"]) == (10000, 58, 1000)
    assert [(line["sku"], line["orderedQty"], line["unitSell"]) for line in created["lineItems"]] == [
        ("SKU-1", 3, 12.5), ("SKU-2", 1, 4.0)]
    ship = order["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    assert (created["shipToStreet"], created["shipToCity"], created["shipToState"], created["shipToZip"]) == (
        ship["street"][0], ship["city"], ship["region_code"], ship["postcode"])
    settle(3)  # several more passes list the same version: the same event id, one Infoplus order
    assert len(infoplus_orders(world, MAGENTO_ID, 1001)) == 1
    assert magento.oauth_requests >= 3 and magento.bearer_requests == 0 and magento.auth_failures == []
    assert all(call.headers["Authorization"].startswith("OAuth ") for call in magento.calls)


def test_every_pass_publishes_the_same_event_for_the_same_version_and_restarts_make_no_second_order(world, magento):
    magento.add_order(1002, "processing")
    orders, poller = start(world, "orders", "magento_orders")
    wait_for_order(world, MAGENTO_ID, 1002)
    assert poller.terminate() == 0 and orders.terminate() == 0

    start(world, "orders", "magento_orders")  # a new poller lists the order again (overlap): same event id
    events = eventually(lambda: len(found := world.read(topics.CART_ORDERS, expect=2, timeout=5)) >= 2 and found,
                        WAIT, message="the order published again by the restarted poller")
    assert len({event["event_id"] for event in events}) == 1
    assert events[0]["delivery"] == {"via": "polling"} and events[0]["source"] == "magento"
    settle(3)
    assert len(infoplus_orders(world, MAGENTO_ID, 1002)) == 1


def test_pending_payment_waits_and_is_created_once_paid(world, magento):
    magento.add_order(1003, "pending_payment", updated_at=minutes_ago(1))
    start(world, "orders", "magento_orders")

    [skip] = skips(world, 1003)
    assert "not paid yet" in skip["reason"] and "pending_payment" in skip["reason"]
    assert infoplus_orders(world, MAGENTO_ID, 1003) == []

    magento.update_order(1003, state="processing")  # the gateway confirmed: a new updated_at, a new version
    wait_for_order(world, MAGENTO_ID, 1003)


def test_held_cancelled_and_already_complete_orders_are_not_created(world, magento):
    magento.add_order(1004, "holded")
    magento.add_order(1005, "canceled")
    magento.add_order(1006, "complete")
    start(world, "orders", "magento_orders")

    assert "not paid yet (cart status holded)" in skips(world, 1004)[0]["reason"]
    assert "cancelled in the cart" in skips(world, 1005)[0]["reason"]
    assert "already fulfilled in the cart" in skips(world, 1006)[0]["reason"]
    assert world.infoplus.orders == []


def test_the_go_live_guard_applies_to_polled_orders(world, magento):
    world.connections[-1]["orders_since"] = datetime.now(timezone.utc).date().isoformat()
    world.write_connections()
    magento.add_order(1007, "processing", created_at="2020-01-01 00:00:00", updated_at=minutes_ago(0))
    start(world, "orders", "magento_orders")

    assert "is before orders_since" in skips(world, 1007)[0]["reason"]
    assert infoplus_orders(world, MAGENTO_ID, 1007) == []


def test_the_cursor_survives_a_restart_and_store_errors_are_retried(world, magento):
    magento.fail_next(2, status=503, path_regex=r"/orders$")
    magento.fail_next(1, status=429, retry_after=1, path_regex=r"/orders$")
    magento.add_order(1008, "processing", updated_at=minutes_ago(0))
    orders, poller = start(world, "orders", "magento_orders")

    wait_for_order(world, MAGENTO_ID, 1008)
    assert magento.count("GET", r"/orders$") >= 4  # three refused passes, then one that got through
    updated = parse_version(magento.order(1008)["updated_at"].replace(" ", "T"))
    eventually(lambda: (cursor := _cursor(world)) and parse_version(cursor["modified_after"]) >= updated, WAIT,
               message="a saved cursor at the order's updated_at")
    assert poller.terminate() == 0

    magento.add_order(1009, "processing", updated_at=minutes_ago(0))
    magento.clear_calls()
    start(world, "magento_orders")  # resumes from the saved cursor, not from an hour back
    wait_for_order(world, MAGENTO_ID, 1009)
    first = next(call for call in magento.calls if call.path.endswith("/orders"))
    since = parse_version(first.query["searchCriteria[filter_groups][0][filters][0][value]"].replace(" ", "T"))
    assert since >= updated - timedelta(minutes=2, seconds=1)  # the cursor minus the overlap
    assert len(infoplus_orders(world, MAGENTO_ID, 1008)) == 1


def test_a_bearer_token_connection_and_a_refusing_store(world):
    with MagentoStandIn(bearer_allowed=True) as relaxed, MagentoStandIn(bearer_allowed=False) as strict:
        world.connections += [magento_connection(relaxed, 405, oauth=False),
                              magento_connection(strict, 406, oauth=False)]
        world.write_connections()
        world.overrides["MAGENTO_POLL_SECONDS"] = "1"
        relaxed.add_order(2001, "processing")
        strict.add_order(2002, "processing")
        _, poller = start(world, "orders", "magento_orders")

        wait_for_order(world, 405, 2001)
        assert relaxed.bearer_requests >= 1 and relaxed.oauth_requests == 0
        eventually(lambda: "answered 401" in poller.output(), WAIT, message="the refused pass logged")
        assert "standalone bearer" in strict.auth_failures[0]
        assert infoplus_orders(world, 406, 2002) == []
        assert strict.access_token not in poller.output() and relaxed.access_token not in poller.output()


def test_the_webhook_url_of_a_magento_connection_refuses_deliveries(world, magento):
    response = world.post(f"/webhooks/carts/{MAGENTO_ID}", b'{"entity_id": 1}', {"Content-Type": "application/json"})
    assert response.status_code == 401


def _cursor(world) -> dict | None:
    records = world.read(topics.MAGENTO_ORDER_CURSORS, expect=0, timeout=2)
    return records[-1] if records else None
