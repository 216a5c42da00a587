"""Topic names in one place (DESIGN.md, "Kafka"). Every name gets `KAFKA_TOPIC_PREFIX` through Settings.topic."""
from __future__ import annotations

import argparse
import logging

from kafka import KafkaAdminClient
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


# Main topics whose consumer waits on `<topic>.retry` (a carton seen before its order shows shipped).
DEFERRING_TOPICS = (INFOPLUS_SHIPMENTS,)


def all_topics() -> list[str]:
    names = [name for topic in MAIN_TOPICS for name in (topic, dead_letters(topic), skipped(topic))]
    return names + [retry(topic) for topic in DEFERRING_TOPICS]


def ensure_topics(settings: Settings, names: list[str]) -> None:
    """Create any missing topic (prefixed) with the configured partition count and a message size that fits
    any body under MAX_BODY_BYTES; existing ones are left alone."""
    admin = KafkaAdminClient(**settings.kafka_client_config(), request_timeout_ms=10_000, bootstrap_timeout_ms=5_000)
    try:
        wanted = {settings.topic(name) for name in names}
        missing = wanted - set(admin.list_topics())
        if missing:
            spec = {name: {"num_partitions": settings.kafka_topic_partitions, "replication_factor": -1,
                           "configs": {"max.message.bytes": str(settings.max_event_bytes)}}
                    for name in sorted(missing)}
            try:
                admin.create_topics(spec, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                pass  # another process created it first
            log.info("created topics %s", ", ".join(sorted(missing)))
    finally:
        admin.close()


def main() -> None:
    """`cartbridge-topics`: create every topic cartbridge uses (for clusters without auto-creation)."""
    argparse.ArgumentParser(description=main.__doc__).parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        ensure_topics(Settings.from_env(), all_topics())
    except KafkaError as error:
        raise SystemExit(f"cartbridge-topics: cannot reach Kafka: {describe(error)}") from None


if __name__ == "__main__":
    main()
