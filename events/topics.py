"""Topic names in one place (DESIGN.md, "Kafka"). Every name gets `KAFKA_TOPIC_PREFIX` through Settings.topic."""
from __future__ import annotations

import argparse
import logging
from contextlib import contextmanager
from typing import Iterator

from kafka import KafkaAdminClient
from kafka.admin import NewPartitions
from kafka.errors import KafkaError, TopicAlreadyExistsError

from config.settings import Settings
from events.kafka_errors import describe

CART_ORDERS = "cart.orders"
INFOPLUS_INVENTORY = "infoplus.inventory"
INFOPLUS_SHIPMENTS = "infoplus.shipments"
MAIN_TOPICS = (CART_ORDERS, INFOPLUS_INVENTORY, INFOPLUS_SHIPMENTS)
# Compacted, one record per connection: where WooCommerce reconciliation resumes (events/cursors.py).
WOOCOMMERCE_RECONCILE_CURSORS = "woocommerce.reconcile.cursors"
# Compacted, one record per connection: where Magento order polling resumes (consumers/magento_orders.py).
MAGENTO_ORDER_CURSORS = "magento.orders.cursors"
# One record per flow, connection and consumer copy: is that cart failing, how many events wait (consumers/health.py).
CONNECTION_HEALTH = "cartbridge.connection.health"

log = logging.getLogger(__name__)


def dead_letters(topic: str) -> str:
    """Where events that cannot be processed go, with a structured reason."""
    return f"{topic}.dlq"


def skipped(topic: str) -> str:
    """Where events a sync switch (or a rule such as "not paid yet") held back go, with the reason."""
    return f"{topic}.skipped"


def state(topic: str) -> str:
    """The consumer state store of `topic`'s consumer (consumers/state.py): compacted, partitioned like `topic`."""
    return f"{topic}.state"


def retry(topic: str) -> str:
    """Where events that wait for something still to come (consumers/deferral.py) sit until they are due."""
    return f"{topic}.retry"


# Main topics whose consumer waits on `<topic>.retry`: a carton seen before its order shows shipped, and every
# flow's events parked for a failing cart (consumers/parking.py).
DEFERRING_TOPICS = MAIN_TOPICS
# Main topics whose consumer keeps a state store on `<topic>.state` (consumers/state.py).
STATEFUL_TOPICS = (CART_ORDERS, INFOPLUS_INVENTORY)
DAY_MS = 86_400_000


def all_topics() -> list[str]:
    names = [name for topic in MAIN_TOPICS for name in (topic, dead_letters(topic), skipped(topic))]
    return names + [retry(topic) for topic in DEFERRING_TOPICS]


@contextmanager
def admin_client(settings: Settings, bootstrap_timeout_ms: int = 5_000) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(**settings.kafka_client_config(), request_timeout_ms=10_000,
                             bootstrap_timeout_ms=bootstrap_timeout_ms)
    try:
        yield admin
    finally:
        admin.close()


def create_missing(admin: KafkaAdminClient, specs: dict[str, dict]) -> list[str]:
    """Create the topics of `specs` (prefixed name -> spec) that are not there yet; returns those created. Another
    process may create one first: that is no error."""
    missing = sorted(set(specs) - set(admin.list_topics()))
    if not missing:
        return []
    try:
        admin.create_topics({name: specs[name] for name in missing}, wait_for_metadata=True)
    except TopicAlreadyExistsError:
        return []  # another process created it first
    return missing


def ensure_topics(settings: Settings, names: list[str]) -> None:
    """Create any missing topic (prefixed) with the configured partition count and a message size that fits
    any body under MAX_BODY_BYTES; existing ones are left alone."""
    spec = {"num_partitions": settings.kafka_topic_partitions, "replication_factor": -1,
            "configs": {"max.message.bytes": str(settings.max_event_bytes)}}
    with admin_client(settings) as admin:
        created = create_missing(admin, {settings.topic(name): spec for name in names})
    if created:
        log.info("created topics %s", ", ".join(created))


def ensure_state_topic(settings: Settings, input_topic: str) -> int:
    """Make `<input>.state` match its input: created compacted with the input's partition count if missing, given
    more partitions if the input gained some (ops scaling a consumer: a state write to a partition the state topic
    lacks would fail forever). Returns the state topic's partition count."""
    name = settings.topic(state(input_topic))
    with admin_client(settings) as admin:
        wanted = _partition_count(admin, settings.topic(input_topic)) or settings.kafka_topic_partitions
        have = _partition_count(admin, name) if name in set(admin.list_topics()) else 0
        if have == 0:
            spec = {"num_partitions": wanted, "replication_factor": -1,
                    "configs": {"cleanup.policy": "compact,delete",
                                "retention.ms": str(int(settings.state_retention_days * DAY_MS)),
                                "max.message.bytes": str(settings.max_event_bytes)}}
            if create_missing(admin, {name: spec}):
                log.info("created state topic %s (compact,delete, %d days, %d partitions)", name,
                         settings.state_retention_days, wanted)
        elif have < wanted:
            admin.create_partitions({name: NewPartitions(total_count=wanted)})
            log.warning("state topic %s had %d partitions, its input %d: partitions added", name, have, wanted)
        return max(have, wanted)


def _partition_count(admin: KafkaAdminClient, name: str) -> int:
    described = admin.describe_topics([name])
    partitions = described[0].get("partitions") if described else None
    return len(partitions or [])


def main() -> None:
    """`cartbridge-topics`: create every topic cartbridge uses (for clusters without auto-creation)."""
    argparse.ArgumentParser(description=main.__doc__).parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        settings = Settings.from_env()
        ensure_topics(settings, all_topics())
        for topic in STATEFUL_TOPICS:  # after their inputs: they take the inputs' partition counts
            ensure_state_topic(settings, topic)
    except KafkaError as error:
        raise SystemExit(f"cartbridge-topics: cannot reach Kafka: {describe(error)}") from None


if __name__ == "__main__":
    main()
