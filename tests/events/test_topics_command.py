"""`cartbridge-topics` against the real broker: every topic, the state stores' compacted topics among them."""
from __future__ import annotations

import subprocess
import sys

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from events import topics


def test_the_command_creates_every_topic_and_the_state_topics_compacted_like_their_inputs(world):
    world.overrides["KAFKA_TOPIC_PARTITIONS"] = "4"
    done = subprocess.run([sys.executable, "-m", "events.topics"], env=world.environ(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    admin = KafkaAdminClient(bootstrap_servers=world.bootstrap)
    try:
        names = set(admin.list_topics())
        assert {world.prefix + name for name in topics.all_topics()} <= names
        for topic in topics.STATEFUL_TOPICS:
            name = world.prefix + topics.state(topic)
            [described] = admin.describe_topics([name])
            assert len(described["partitions"]) == 4
            # kafka-python 3 answers {"topic": {name: {config: {"value": ...}}}}
            config = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])["topic"][name]
            assert config["cleanup.policy"]["value"] == "compact,delete"
    finally:
        admin.close()
