"""LOG_FORMAT=json: one JSON object per line, the event's id, connection, consumer kind and outcome as fields."""
from __future__ import annotations

import json
import logging

from config.logs import JsonFormatter, event_fields, formatter
from sandbox.sample import shopify_order
from tests.support.world import SHOPIFY_SECRET, eventually


def test_a_consumer_logging_json_writes_one_object_per_line_with_the_event_fields(world):
    world.infoplus.known_skus = {10000: {"SKU-1"}}
    world.overrides["LOG_FORMAT"] = "json"
    consumer = world.start_consumer("orders")

    created = world.post_shopify_order(shopify_order(order_id=8501, skus=["SKU-1"])).json()["event_ids"][0]
    refused = world.post_shopify_order(shopify_order(order_id=8502, skus=["NEW-SKU"])).json()["event_ids"][0]

    def lines() -> list[dict] | None:
        parsed = [json.loads(line) for line in consumer.output().splitlines() if line.strip()]  # every line parses
        ids = {line.get("event_id") for line in parsed if line.get("outcome")}
        return parsed if {created, refused} <= ids else None

    parsed = eventually(lines, 45, message="both events logged")
    [done] = [line for line in parsed if line.get("event_id") == created and line.get("outcome") == "done"]
    assert done["connection"] == 101 and done["kind"] == "orders" and done["level"] == "INFO"
    assert done["logger"] == "consumers.engine" and "created Infoplus order" in done["message"]
    [dead] = [line for line in parsed if line.get("event_id") == refused and line.get("outcome") == "dead_lettered"]
    assert dead["level"] == "WARNING" and "answered 422" in dead["message"]
    output = consumer.output()
    assert SHOPIFY_SECRET not in output and world.shopify.access_token not in output


def test_the_default_text_format_reads_as_before_and_json_keeps_a_traceback():
    record = logging.LogRecord("consumers.engine", logging.INFO, __file__, 1, "orders: done event_id=%s", ("e1",),
                               None)
    record.__dict__.update(event_fields("orders", None, "done", connection=101))
    text = formatter("text").format(record)
    assert text.endswith("INFO consumers.engine: orders: done event_id=e1") and "{" not in text
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(failed))
    assert line["message"] == "failed" and "ValueError: boom" in line["exception"]
    assert json.loads(JsonFormatter().format(record))["connection"] == 101
