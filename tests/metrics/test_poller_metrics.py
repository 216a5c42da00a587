"""The poller's freshness on its METRICS_PORT: leadership, last cycle, cursor ages, Infoplus calls spent."""
from __future__ import annotations

import time

from tests.support.metrics import samples, scrape, start_with_metrics, value
from tests.support.world import eventually


def test_the_leader_reports_its_cycle_its_cursors_ages_and_the_infoplus_calls_it_spent(world):
    world.overrides.update({"INFOPLUS_POLL_SECONDS": "0.5", "INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS": "600"})
    world.infoplus.add_item(10000, "SKU-1", 5)
    _, metrics = start_with_metrics(world, "poller")

    def cycled() -> str | None:
        text = scrape(metrics + "/metrics", wait=30)
        return text if value(text, "cartbridge_poller_last_cycle_timestamp_seconds") > 0 else None

    text = eventually(cycled, 45, message="a whole poll cycle")
    assert value(text, "cartbridge_poller_leader") == 1
    assert value(text, "cartbridge_poller_rejoin_rebuilds") == 0  # a lone copy's rejoins all finish
    assert time.time() - value(text, "cartbridge_poller_last_cycle_timestamp_seconds") < 30
    ages = {(labels["source"], labels["lob"]): age for labels, age in samples(text, "cartbridge_poller_cursor_age_seconds")}
    assert set(ages) == {("shipments", "10000"), ("inventory", "10000")}
    assert all(0 <= age < 3600 for age in ages.values()), ages
    calls = value(text, "cartbridge_outbound_requests_total", api="infoplus", status="200")
    assert calls >= 2  # one search per source at least
    assert value(text, "cartbridge_outbound_requests_total", api="infoplus", endpoint="item/search") >= 1
