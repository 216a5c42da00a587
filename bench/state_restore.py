"""Benchmark: how long a consumer state store takes to restore one partition, for a given number of keys (order-sized
values, as the orders consumer writes them). Prints figures; asserts nothing.

    .venv/bin/python bench/state_restore.py [--keys 10000 100000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from kafka import KafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from consumers.state import StateStore  # noqa: E402
from events import topics  # noqa: E402
from events.publisher import Publisher  # noqa: E402
from tests.support.kafka import Broker  # noqa: E402

VALUE = (b'{"newest":"2026-11-27T10:00:03+00:00","known":true,"created":{"orderNo":1000123.0,"lineItems":[{"lobId":'
         b'10000,"sku":"SKU-1","orderedQty":1,"unitSell":19.99,"customerLineItemNo":"1"},{"lobId":10000,"sku":"SKU-2",'
         b'"orderedQty":2,"unitSell":5.0,"customerLineItemNo":"2"}],"extraOrderData":[{"category":"cartbridge","code":'
         b'"cartVersion","value":"2026-11-27T10:00:00+00:00"}],"shipToCompany":"Jane Doe","shipToStreet":"1 Main St",'
         b'"shipToCity":"Springfield","shipToState":"IL","shipToZip":"62701","shipToCountry":"US"}}')


def measure(bootstrap: str, keys: int) -> None:
    settings = Settings(kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=f"bench{keys}.", kafka_topic_partitions=1)
    topics.ensure_topics(settings, [topics.CART_ORDERS])
    publisher = Publisher(settings)
    store = StateStore(settings, topics.CART_ORDERS, publisher)
    store.ensure_topic()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024)
    started = time.monotonic()
    for n in range(keys):
        producer.send(settings.topic(store.topic), key=f"101:{n}".encode(), value=VALUE, partition=0)
    producer.flush()
    producer.close()
    written = time.monotonic() - started
    started = time.monotonic()
    store.restore_missing({0})
    restored = time.monotonic() - started
    publisher.close()
    print(f"{keys:>8} keys ({len(VALUE)} B each): written in {written:.1f} s, restored in {restored:.2f} s "
          f"({keys / restored:,.0f} keys/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        try:
            for keys in args.keys:
                measure(broker.bootstrap, keys)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
