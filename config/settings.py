"""Process settings, read once from the environment (names are part of the external contract, DESIGN.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

MIB = 1024 * 1024

# KAFKA_* security variables (DESIGN.md) and the kafka-python argument each becomes. kafka-python reads the
# username and password from its sasl_plain_* arguments for SCRAM too.
_KAFKA_SECURITY_VARIABLES = {
    "KAFKA_SECURITY_PROTOCOL": "security_protocol",
    "KAFKA_SASL_MECHANISM": "sasl_mechanism",
    "KAFKA_SASL_USERNAME": "sasl_plain_username",
    "KAFKA_SASL_PASSWORD": "sasl_plain_password",
    "KAFKA_SSL_CAFILE": "ssl_cafile",
    "KAFKA_SSL_CERTFILE": "ssl_certfile",
    "KAFKA_SSL_KEYFILE": "ssl_keyfile",
}
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class Secret(str):
    """A str that any repr shows as '***': kafka-python logs its whole configuration at DEBUG, and a Settings
    or a config dict printed anywhere would otherwise carry the password."""

    def __repr__(self) -> str:
        return "'***'"


class KafkaSecurityError(ValueError):
    """The KAFKA_* security variables do not make a usable setting; the message names the variable."""


class CredentialError(ValueError):
    """A secret from the environment is unusable as written; the message names the variable, never the value."""


def credential_from_env(env: Mapping[str, str], name: str) -> str | None:
    """A secret exactly as given, or None when unset or empty. Whitespace around it or a control character inside
    (a Kubernetes secret made `--from-file` ends in a newline) is refused: sent as a header it would fail every
    call, and requests' error would quote it."""
    value = env.get(name) or None
    if value is None:
        return None
    if value != value.strip() or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise CredentialError(f"{name} has whitespace around it or a control character in it: remove it")
    return value


def kafka_security_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """The kafka-python security arguments, checked so that a mistake stops startup with a message naming the
    variable instead of surfacing later as a broker that "does not answer". Nothing here echoes a secret."""
    given = {var: env[var].strip() for var in _KAFKA_SECURITY_VARIABLES if env.get(var, "").strip()}
    for var in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM"):
        if var in given:
            given[var] = given[var].upper()
    protocol = given.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise KafkaSecurityError(f"KAFKA_SECURITY_PROTOCOL={protocol} is not one of "
                                 f"{', '.join(KAFKA_SECURITY_PROTOCOLS)}")
    sasl_vars = [var for var in given if var.startswith("KAFKA_SASL_")]
    if protocol.startswith("SASL_"):
        mechanism = given.get("KAFKA_SASL_MECHANISM")
        if mechanism not in KAFKA_SASL_MECHANISMS:
            raise KafkaSecurityError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM, one of "
                                     f"{', '.join(KAFKA_SASL_MECHANISMS)} (got {mechanism or 'nothing'})")
        missing = [var for var in ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD") if var not in given]
        if missing:
            raise KafkaSecurityError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs {' and '.join(missing)}")
    elif sasl_vars:
        raise KafkaSecurityError(f"{', '.join(sasl_vars)} set but KAFKA_SECURITY_PROTOCOL={protocol} uses no SASL "
                                 "(SASL_SSL or SASL_PLAINTEXT)")
    ssl_vars = [var for var in given if var.startswith("KAFKA_SSL_")]
    if ssl_vars and not protocol.endswith("SSL"):
        raise KafkaSecurityError(f"{', '.join(ssl_vars)} set but KAFKA_SECURITY_PROTOCOL={protocol} uses no TLS "
                                 "(SSL or SASL_SSL)")
    if ("KAFKA_SSL_KEYFILE" in given) != ("KAFKA_SSL_CERTFILE" in given):
        raise KafkaSecurityError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together "
                                 "(a client certificate and its key)")
    for var in ssl_vars:
        if not os.access(given[var], os.R_OK) or not os.path.isfile(given[var]):
            raise KafkaSecurityError(f"{var}={given[var]}: no readable file there")
    if "KAFKA_SASL_PASSWORD" in given:
        given["KAFKA_SASL_PASSWORD"] = Secret(given["KAFKA_SASL_PASSWORD"])
    return {_KAFKA_SECURITY_VARIABLES[var]: value for var, value in given.items()}


def _comma_separated(text: str) -> tuple[str, ...]:
    return tuple(Secret(part.strip()) for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_topic_prefix: str = ""
    kafka_security: Mapping[str, str] = field(default_factory=dict)
    kafka_topic_partitions: int = 3
    connections_file: str = "config/connections.yaml"
    # How often the registry file's modification time is checked (DESIGN.md promises 5 s).
    connections_reload_seconds: float = 2.0
    infoplus_base_url: str | None = None
    infoplus_api_key: str | None = None
    infoplus_webhook_secret: str | None = None
    max_body_bytes: int = 5 * MIB
    # Carts give up after 5 s: a publish must fail (503) well before that.
    publish_timeout_seconds: float = 3.0
    http_connect_timeout_seconds: float = 3.05
    http_read_timeout_seconds: float = 10.0
    consumer_session_timeout_ms: int = 10_000
    # A poll hands out up to this many records; the engine queues them for its workers (consumers/inflight.py).
    consumer_max_poll_records: int = 100
    # Events one consumer process works on at once (threads: the work is waiting on HTTP), one at a time per Kafka
    # key. 32 by measurement (bench/concurrency.py, docs/consumer-engine.md): 16 gives 13 calls waited on at once,
    # 32 gives 22-25, 64 only a fifth more on a 2-core machine; the Infoplus budget paces Infoplus calls whatever it is.
    consumer_concurrency: int = 32
    # Of those, at most this many for one connection's events at once (a connection may set `max_in_flight`):
    # a big merchant's burst neither takes every slot nor blows through its cart's rate limit.
    connection_max_in_flight: int = 4
    consumer_max_poll_interval_ms: int = 300_000
    # Consumer state stores (consumers/state.py): a key not written for this long is deleted, which bounds how long
    # a restore takes; anything older than that is looked up in Infoplus instead of trusted.
    state_retention_days: float = 60.0
    # Cart clocks differ from ours: orders created this close to a state store's start are looked up anyway.
    state_clock_skew_seconds: float = 600.0
    retry_backoff_initial_seconds: float = 1.0
    retry_backoff_max_seconds: float = 60.0
    # An error no one classified (a bug, an unforeseen answer) is retried this many times (about 2 minutes with
    # the default backoff), then dead-lettered with its traceback: it must not stall its partition for good.
    unexpected_error_attempts: int = 8
    # The most Infoplus calls/s this process makes per API key (Infoplus allows ~3/s per API user, 10 per site).
    # Processes sharing a key need not split it by hand: each waits out a 429's Retry-After; a lone 429 at this
    # ceiling is jitter and the rate is back within seconds, repeated 429s cut it (x0.8) and it climbs back by
    # INFOPLUS_RATE_INCREASE_PER_SECOND calls/s each second, faster the longer none comes (outbound/ratelimit.py).
    infoplus_calls_per_second: float = 2.9  # a hair under 3: network jitter can put calls paced at 3/s in one second
    infoplus_rate_increase_per_second: float = 0.005
    # INFOPLUS_API_KEYS: more API users of the same site, each with its own budget of INFOPLUS_CALLS_PER_SECOND;
    # calls are spread over them (and INFOPLUS_API_KEY, when set). Their sum stays under the site's limit.
    infoplus_api_keys: tuple[str, ...] = ()
    infoplus_site_calls_per_second: float = 9.7  # a hair under Infoplus's 10/s per site, as 2.9 is under 3
    infoplus_poll_seconds: float = 30.0
    # A 429/5xx in a poll cycle is waited out and asked again within the cycle, for at most this many seconds in
    # all per cycle; past that the cycle ends and the next one resumes at the cursor.
    infoplus_poll_retry_budget_seconds: float = 20.0
    # A first start (no cursor yet) polls changes from this far back, not the whole history.
    infoplus_poll_initial_lookback_seconds: float = 300.0
    # Switches read from Infoplus (switches_from: infoplus) are cached this long.
    infoplus_switches_ttl_seconds: float = 30.0
    # Inventory: the broker holds a fetch up to this long to gather a burst, so one SKU's burst costs one cart call.
    inventory_coalesce_ms: int = 250
    # Inventory resync: cart calls per second it may spend (BigCommerce's smallest plan allows 5/s for all apps).
    inventory_resync_calls_per_second: float = 2.0
    # WooCommerce never retries a webhook: reconciliation lists orders modified since its cursor this often.
    woocommerce_reconcile_seconds: float = 60.0
    # Magento Open Source has no webhooks: order polling lists orders updated since its cursor this often.
    magento_poll_seconds: float = 60.0
    # Tracking: a carton Infoplus wrote before its order shows shipped waits on infoplus.shipments.retry — looked at
    # again after 1 min, doubling to every 30 min — for up to a day (labels printed in the morning, shipping
    # confirmed at the end of the day, or the next), then dead-lettered.
    tracking_wait_for_shipped_seconds: float = 86_400.0
    defer_first_delay_seconds: float = 60.0
    defer_max_delay_seconds: float = 1_800.0
    # A failing cart (consumers/circuits.py): its circuit's back-off doubles up to this (a Retry-After is clamped to
    # it too); its parked events are dead-lettered once it has been failing this long (consumers/parking.py).
    connection_retry_max_seconds: float = 300.0
    connection_outage_dead_letter_hours: float = 72.0
    # Processes other than web serve /metrics, /healthz, /readyz here (DESIGN.md "Metrics"); None: no port.
    metrics_port: int | None = None

    @property
    def infoplus_keys(self) -> tuple[str, ...]:
        """Every Infoplus API key this process may use: INFOPLUS_API_KEY, then INFOPLUS_API_KEYS, each once."""
        given = ((self.infoplus_api_key,) if self.infoplus_api_key else ()) + self.infoplus_api_keys
        return tuple(Secret(key) for key in dict.fromkeys(given))

    @property
    def consumer_batch_seconds(self) -> float:
        """How long the events in flight may take to finish when their partitions are revoked or the process stops:
        40 % of max.poll.interval (120 s at the default) — every outbound call has a timeout well inside it."""
        return 0.4 * self.consumer_max_poll_interval_ms / 1000

    @property
    def http_timeout(self) -> tuple[float, float]:
        """(connect, read) seconds for every outbound HTTP call."""
        return (self.http_connect_timeout_seconds, self.http_read_timeout_seconds)

    @property
    def max_event_bytes(self) -> int:
        """The largest Kafka record cartbridge writes: an envelope holds the normalized payload beside the original
        body, so twice the largest body, plus room for the envelope's own fields. Producers and created topics
        take this limit, so every body under MAX_BODY_BYTES fits in one record."""
        return 2 * self.max_body_bytes + 64 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", defaults.kafka_bootstrap_servers),
            kafka_topic_prefix=env.get("KAFKA_TOPIC_PREFIX", ""),
            kafka_security=kafka_security_from_env(env),
            kafka_topic_partitions=int(env.get("KAFKA_TOPIC_PARTITIONS", defaults.kafka_topic_partitions)),
            connections_file=env.get("CONNECTIONS_FILE", defaults.connections_file),
            infoplus_base_url=env.get("INFOPLUS_BASE_URL") or None,
            infoplus_api_key=credential_from_env(env, "INFOPLUS_API_KEY"),
            infoplus_webhook_secret=credential_from_env(env, "INFOPLUS_WEBHOOK_SECRET"),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", defaults.max_body_bytes)),
            consumer_session_timeout_ms=int(
                env.get("KAFKA_CONSUMER_SESSION_TIMEOUT_MS", defaults.consumer_session_timeout_ms)),
            state_retention_days=float(env.get("STATE_RETENTION_DAYS", defaults.state_retention_days)),
            state_clock_skew_seconds=float(env.get("STATE_CLOCK_SKEW_SECONDS", defaults.state_clock_skew_seconds)),
            consumer_max_poll_interval_ms=int(
                env.get("KAFKA_MAX_POLL_INTERVAL_MS", defaults.consumer_max_poll_interval_ms)),
            consumer_concurrency=max(1, int(env.get("CONSUMER_CONCURRENCY", defaults.consumer_concurrency))),
            connection_max_in_flight=max(1, int(env.get("CONNECTION_MAX_IN_FLIGHT",
                                                        defaults.connection_max_in_flight))),
            retry_backoff_max_seconds=float(env.get("RETRY_BACKOFF_MAX_SECONDS", defaults.retry_backoff_max_seconds)),
            unexpected_error_attempts=int(env.get("UNEXPECTED_ERROR_ATTEMPTS", defaults.unexpected_error_attempts)),
            infoplus_calls_per_second=float(env.get("INFOPLUS_CALLS_PER_SECOND", defaults.infoplus_calls_per_second)),
            infoplus_rate_increase_per_second=float(
                env.get("INFOPLUS_RATE_INCREASE_PER_SECOND", defaults.infoplus_rate_increase_per_second)),
            infoplus_api_keys=_comma_separated(env.get("INFOPLUS_API_KEYS", "")),
            infoplus_site_calls_per_second=float(
                env.get("INFOPLUS_SITE_CALLS_PER_SECOND", defaults.infoplus_site_calls_per_second)),
            infoplus_poll_seconds=float(env.get("INFOPLUS_POLL_SECONDS", defaults.infoplus_poll_seconds)),
            infoplus_poll_retry_budget_seconds=float(
                env.get("INFOPLUS_POLL_RETRY_BUDGET_SECONDS", defaults.infoplus_poll_retry_budget_seconds)),
            infoplus_poll_initial_lookback_seconds=float(
                env.get("INFOPLUS_POLL_INITIAL_LOOKBACK_SECONDS", defaults.infoplus_poll_initial_lookback_seconds)),
            infoplus_switches_ttl_seconds=float(
                env.get("INFOPLUS_SWITCHES_TTL_SECONDS", defaults.infoplus_switches_ttl_seconds)),
            inventory_coalesce_ms=int(env.get("INVENTORY_COALESCE_MS", defaults.inventory_coalesce_ms)),
            inventory_resync_calls_per_second=float(
                env.get("INVENTORY_RESYNC_CALLS_PER_SECOND", defaults.inventory_resync_calls_per_second)),
            woocommerce_reconcile_seconds=float(
                env.get("WOOCOMMERCE_RECONCILE_SECONDS", defaults.woocommerce_reconcile_seconds)),
            magento_poll_seconds=float(env.get("MAGENTO_POLL_SECONDS", defaults.magento_poll_seconds)),
            tracking_wait_for_shipped_seconds=float(
                env.get("TRACKING_WAIT_FOR_SHIPPED_SECONDS", defaults.tracking_wait_for_shipped_seconds)),
            defer_first_delay_seconds=float(env.get("DEFER_FIRST_DELAY_SECONDS", defaults.defer_first_delay_seconds)),
            defer_max_delay_seconds=float(env.get("DEFER_MAX_DELAY_SECONDS", defaults.defer_max_delay_seconds)),
            metrics_port=int(env["METRICS_PORT"]) if env.get("METRICS_PORT") else None,
            connection_retry_max_seconds=float(
                env.get("CONNECTION_RETRY_MAX_SECONDS", defaults.connection_retry_max_seconds)),
            connection_outage_dead_letter_hours=float(
                env.get("CONNECTION_OUTAGE_DEAD_LETTER_HOURS", defaults.connection_outage_dead_letter_hours)),
        )

    def topic(self, name: str) -> str:
        """A topic or consumer-group name with this environment's prefix."""
        return f"{self.kafka_topic_prefix}{name}"

    def kafka_client_config(self) -> dict:
        """The arguments every kafka-python client of this process shares: the broker list and the security
        settings (KAFKA_SECURITY_PROTOCOL …). Every producer, consumer and admin client is built from this."""
        return {"bootstrap_servers": [server.strip() for server in self.kafka_bootstrap_servers.split(",")],
                **self.kafka_security}
