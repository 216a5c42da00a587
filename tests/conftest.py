"""Session-wide real Kafka broker; per-test World (topic prefix, connections file, stand-ins on 127.0.0.1)."""
from __future__ import annotations

import os

import pytest

from sandbox.bigcommerce import BigCommerceStandIn
from sandbox.infoplus import InfoplusStandIn
from sandbox.shopify import ShopifyStandIn
from sandbox.woocommerce import WooCommerceStandIn
from tests.support.kafka import Broker
from tests.support.world import INFOPLUS_API_KEY, World


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    """One broker per test session (or CARTBRIDGE_TEST_KAFKA=host:port to reuse a running one)."""
    external = os.environ.get("CARTBRIDGE_TEST_KAFKA")
    if external:
        yield external
        return
    broker = Broker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def infoplus():
    with InfoplusStandIn(api_key=INFOPLUS_API_KEY) as standin:
        yield standin


@pytest.fixture
def shopify():
    with ShopifyStandIn() as standin:
        yield standin


@pytest.fixture
def woo():
    with WooCommerceStandIn() as standin:
        yield standin


@pytest.fixture
def bigc():
    with BigCommerceStandIn() as standin:
        yield standin


@pytest.fixture
def world(kafka_bootstrap, infoplus, shopify, tmp_path, request):
    world = World(kafka_bootstrap, tmp_path, infoplus, shopify)
    yield world
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(world.process_logs())
    world.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
