"""Event plumbing shared by every process: topic names, the envelope, the Kafka publisher."""
