"""One real Kafka broker for the whole test run (shared by every pytest-xdist worker); per-test World (topic prefix,
connections file, stand-ins on 127.0.0.1)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from sandbox.bigcommerce import BigCommerceStandIn
from sandbox.infoplus import InfoplusStandIn
from sandbox.shopify import ShopifyStandIn
from sandbox.woocommerce import WooCommerceStandIn
from tests.support.kafka import shared_broker_bootstrap, stop_shared_broker
from tests.support.world import INFOPLUS_API_KEY, World

# Where the run's broker lives: chosen by the controlling pytest process before it starts any xdist worker, which
# inherits it through the environment.
BROKER_FOLDER = "CARTBRIDGE_TEST_BROKER_DIR"


def _controls_the_run(config) -> bool:
    return not hasattr(config, "workerinput")  # pytest itself, not one of its xdist workers


# Folders whose tests run on one pytest-xdist worker, one after another: tests/kafka_security/ starts a broker of its
# own for the session (on one worker it is started once), and its tests count that broker's refused logins, which a
# neighbour's refused logins would inflate.
ONE_WORKER_FOLDERS = ("tests/kafka_security/",)


class OneWorkerFolders:
    """pytest-xdist's `load` scheduling, test by test, except that each of ONE_WORKER_FOLDERS is one unit of work.
    (xdist_group marks would do it, but pytest-xdist 3.8's --dist loadgroup no longer groups under pytest 9.)"""

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config, log):
        if config.getvalue("dist") not in ("load", "loadgroup"):
            return None
        from xdist.scheduler import LoadScopeScheduling

        class Scheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return next((folder for folder in ONE_WORKER_FOLDERS if nodeid.startswith(folder)), nodeid)

        return Scheduling(config, log)  # larger units first: the folder starts at once, not at the end


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(OneWorkerFolders(), "cartbridge-one-worker-folders")


@pytest.hookimpl(tryfirst=True)  # before xdist starts its workers (its own sessionstart is trylast)
def pytest_sessionstart(session):
    if _controls_the_run(session.config) and not os.environ.get("CARTBRIDGE_TEST_KAFKA"):
        factory = getattr(session.config, "_tmp_path_factory", None)  # the run's basetemp, kept for its last 3 runs
        folder = factory.mktemp("kafka") if factory else Path(tempfile.mkdtemp(prefix="cartbridge-kafka-"))
        os.environ[BROKER_FOLDER] = str(folder)


def pytest_unconfigure(config):
    """The controlling process stops the broker after every worker is done, whatever the outcome."""
    folder = os.environ.get(BROKER_FOLDER)
    if _controls_the_run(config) and folder:
        stop_shared_broker(Path(folder))


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """The run's one broker, started by the first test that needs it (or CARTBRIDGE_TEST_KAFKA=host:port to reuse a
    running one). Tests keep apart by topic and group prefix (World.prefix), so workers share it safely."""
    return os.environ.get("CARTBRIDGE_TEST_KAFKA") or shared_broker_bootstrap(Path(os.environ[BROKER_FOLDER]))


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
