"""Prometheus metrics of every cartbridge process (names and labels: docs/metrics.md).

- `families`: every metric, defined once (prometheus_client's module-level idiom: registration is cheap).
- `web`: the web tier's request counter and latency, `/metrics` in gunicorn's multiprocess mode.
- `consumer`: the engine observer (events by outcome, handling latency, lag) and the consumers' readiness.
- `outbound`: calls to outside APIs by API, endpoint and status (hooked into outbound.http.send).
- `poller`: cursor ages, last cycle, leadership.
- `server`: `/metrics`, `/healthz`, `/readyz` on METRICS_PORT for every process that is not a web server.

Labels hold only bounded, non-secret values: connection ids from the registry, platform names, status codes,
reason codes, endpoint templates with ids replaced by `{id}` — never a payload, a secret or a free-text reason.
"""
