"""The poller: Infoplus has no outgoing webhooks, so cartbridge goes and gets what changed.

It reads shipments and items modified since its cursor from the Infoplus API and publishes the same events the
push endpoints publish. Cursors live on a compacted Kafka topic; only the copy that holds the leadership
(Kafka's group protocol on a one-partition topic) polls, so any number of copies can run.
"""
