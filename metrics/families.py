"""Every metric cartbridge exports, in one place (docs/metrics.md describes each)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `_created` sample beside every counter and histogram: it doubles a scrape and no query here reads it.
disable_created_metrics()

# Latency buckets: webhooks answer in milliseconds (a broker ack); handlers and outbound calls take up to seconds.
_FAST = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

WEBHOOK_REQUESTS = Counter(
    "cartbridge_webhook_requests", "Webhook answers by connection, platform and HTTP status",
    ["connection", "platform", "status"])
WEBHOOK_SECONDS = Histogram(
    "cartbridge_webhook_request_duration_seconds", "Time to answer a webhook (includes the broker's ack)",
    ["platform"], buckets=_FAST)

EVENTS = Counter(
    "cartbridge_events_handled", "Events handled by consumer kind, connection, outcome and reason code",
    ["kind", "connection", "outcome", "reason"])
HANDLING_SECONDS = Histogram(
    "cartbridge_event_handling_duration_seconds", "Time the handler spent on one event, whatever came of it",
    ["kind"], buckets=_SLOW)
CONSUMER_LAG = Gauge(
    "cartbridge_consumer_lag", "Records on the partition not yet fetched by this consumer (end offset - position)",
    ["group", "topic", "partition"])
CONSUMER_PARTITIONS = Gauge(
    "cartbridge_consumer_assigned_partitions", "Partitions assigned to this consumer process", ["group"])
CONSUMER_LAST_POLL = Gauge(
    "cartbridge_consumer_last_poll_timestamp_seconds", "When this consumer last polled Kafka (Unix time)", ["group"])
CONSUMER_IN_FLIGHT = Gauge(
    "cartbridge_consumer_events_in_flight", "Events this consumer process is working on now (CONSUMER_CONCURRENCY at "
    "most)", ["kind"])
CONSUMER_QUEUED = Gauge(
    "cartbridge_consumer_events_queued", "Events read and waiting for a slot, for their connection's cap or for an "
    "earlier event of their key", ["kind"])
CONSUMER_KEY_QUEUE_DEPTH = Gauge(
    "cartbridge_consumer_key_queue_depth", "The most events waiting behind one Kafka key (a hot order or SKU)",
    ["kind"])
CONSUMER_SLOT_WAIT = Histogram(
    "cartbridge_consumer_slot_wait_seconds", "Time from an event being read to its handling starting (waiting for a "
    "slot, its connection's cap or its key)", ["kind"], buckets=_SLOW)
CONNECTION_CIRCUIT_OPEN = Gauge(
    "cartbridge_connection_circuit_open", "1 while the connection's cart is failing in this flow (failing, open "
    "or probing), 0 when healthy (consumers/circuits.py)", ["flow", "connection"])
CONNECTION_PARKED_EVENTS = Gauge(
    "cartbridge_connection_parked_events", "Events of this flow parked on <topic>.retry waiting for the "
    "connection's cart (held by this consumer process)", ["flow", "connection"])

OUTBOUND_REQUESTS = Counter(
    "cartbridge_outbound_requests", "Calls to outside APIs by API, endpoint template, method and status "
    "(429 included; `timeout` / `connection_error` when no answer came)", ["api", "endpoint", "method", "status"])
OUTBOUND_SECONDS = Histogram(
    "cartbridge_outbound_request_duration_seconds", "Time of one call to an outside API", ["api"], buckets=_SLOW)
INFOPLUS_BUDGET = Gauge(
    "cartbridge_infoplus_budget_calls_per_second", "This process's current Infoplus call rate per API key (its "
    "position in INFOPLUS_API_KEY, INFOPLUS_API_KEYS), which 429s cut and calm seconds grow back", ["key"])
INFOPLUS_THROTTLED = Counter(
    "cartbridge_infoplus_throttled", "Infoplus answers of 429 per API key (position)", ["key"])
INFOPLUS_KEY_REFUSED = Gauge(
    "cartbridge_infoplus_api_key_refused", "1 while an Infoplus API key (position) is set aside: Infoplus "
    "answered it 401/403", ["key"])

POLLER_LEADER = Gauge("cartbridge_poller_leader", "1 while this poller copy holds the leadership")
POLLER_REJOIN_REBUILDS = Gauge(
    "cartbridge_poller_rejoin_rebuilds", "Leadership consumers rebuilt because a rejoin never finished "
    "(poller/leadership.py watchdog); since the process started")
POLLER_LAST_CYCLE = Gauge(
    "cartbridge_poller_last_cycle_timestamp_seconds", "When this poller last finished a whole cycle (Unix time)")
POLLER_UNCONNECTED_ROWS = Counter(
    "cartbridge_poller_unconnected_rows", "Changed Infoplus records the poller read and did not publish because "
    "their LOB has no connection (one search covers every LOB the API user sees), per source and LOB",
    ["source", "lob"])
POLLER_CURSOR_AGE = Gauge(
    "cartbridge_poller_cursor_age_seconds", "Now minus the cursor's newest Infoplus modifyDate, per source and LOB "
    "(grows while Infoplus has no change too: read it with the last cycle)", ["source", "lob"])

ORDER_POLL_BAD_ANSWERS = Counter(
    "cartbridge_order_polling_bad_answers", "Order polling passes (WooCommerce reconciliation, Magento polling) whose "
    "store answered something that is not a list of orders, by platform and connection", ["platform", "connection"])
