"""Everything one test needs, isolated by a topic prefix: settings, a connections file, stand-ins, processes."""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import requests
import yaml

from config.settings import Settings
from tests.support.kafka import read_topic
from tests.support.processes import ServiceProcess, WebServer

SHOPIFY_SECRET = "shopify-webhook-secret"
INFOPLUS_API_KEY = "infoplus-test-key"


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2, message: str = "") -> Any:
    """Poll `check` until it returns something truthy; fail with `message` at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message or check}")
        time.sleep(interval)


class World:
    def __init__(self, bootstrap: str, tmp_path: Path, infoplus, shopify) -> None:
        self.bootstrap = bootstrap
        self.prefix = f"t{uuid.uuid4().hex[:10]}."
        self.tmp_path = tmp_path
        self.infoplus = infoplus
        self.shopify = shopify
        self.connections_path = tmp_path / "connections.yaml"
        self.connections: list[dict] = [self.shopify_connection()]
        self.write_connections()
        self._processes: list[ServiceProcess] = []
        self._web: WebServer | None = None
        self.overrides: dict[str, str] = {}

    # -- configuration -----------------------------------------------------------------------------------------
    def shopify_connection(self, **fields: Any) -> dict:
        return {"id": 101, "name": "Acme Shopify", "platform": "shopify", "store_url": self.shopify.base_url,
                "lob_id": 10000, "order_source_id": 55, "warehouse_id": 1000, "default_carrier_id": 1,
                "webhook_secret": SHOPIFY_SECRET, "access_token": self.shopify.access_token,
                "location_id": "gid://shopify/Location/1", "sync_orders": True, **fields}

    def write_connections(self) -> None:
        """Rewrite the registry file; running processes pick it up within connections_reload_seconds."""
        temporary = self.connections_path.with_suffix(".tmp")
        temporary.write_text(yaml.safe_dump({"connections": self.connections}))
        os.replace(temporary, self.connections_path)  # atomic, like a careful operator's editor

    def set_switch(self, connection_id: int, switch: str, value: bool) -> None:
        next(c for c in self.connections if c["id"] == connection_id)[switch] = value
        self.write_connections()

    def environ(self) -> dict[str, str]:
        return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "KAFKA_TOPIC_PREFIX": self.prefix,
                "CONNECTIONS_FILE": str(self.connections_path), "INFOPLUS_BASE_URL": self.infoplus.base_url,
                "INFOPLUS_API_KEY": INFOPLUS_API_KEY, "KAFKA_CONSUMER_SESSION_TIMEOUT_MS": "2000",
                "RETRY_BACKOFF_MAX_SECONDS": "2", "PYTHONUNBUFFERED": "1",
                "INFOPLUS_CALLS_PER_SECOND": "100",  # the stand-in has no budget unless a test sets one
                "STATE_CLOCK_SKEW_SECONDS": "0",  # stand-ins and tests share one clock
                **self.overrides}

    def settings(self) -> Settings:
        return Settings.from_env(self.environ())

    # -- processes ---------------------------------------------------------------------------------------------
    @property
    def web_url(self) -> str:
        if self._web is None:
            from webhooks import create_app
            self._web = WebServer(create_app(settings=self.settings())).start()
        return self._web.url

    def start_consumer(self, kind: str) -> ServiceProcess:
        return self.start_process(f"consumers.{kind}")

    def start_poller(self) -> ServiceProcess:
        return self.start_process("poller")

    def start_process(self, module: str) -> ServiceProcess:
        log_path = self.tmp_path / f"{module}-{len(self._processes)}.log"
        process = ServiceProcess(module, self.environ(), log_path).start()
        self._processes.append(process)
        return process

    def close(self) -> None:
        for process in self._processes:
            process.stop_quietly()
        if self._web is not None:
            self._web.stop()

    def process_logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.output()[-4000:]}" for p in self._processes)

    # -- traffic -----------------------------------------------------------------------------------------------
    def post(self, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(self.web_url + path, data=body, headers=headers, timeout=10)

    def post_shopify_order(self, order: dict, *, connection_id: int = 101, secret: str = SHOPIFY_SECRET,
                           topic: str = "orders/create", webhook_id: str | None = None) -> requests.Response:
        from sandbox.sample import shopify_headers
        body = json.dumps(order).encode()
        headers = shopify_headers(body, secret, topic=topic, webhook_id=webhook_id)
        return self.post(f"/webhooks/carts/{connection_id}", body, headers)

    def read(self, topic: str, *, expect: int = 1, timeout: float = 20.0) -> list[dict]:
        """Decoded JSON values on the prefixed topic."""
        records = read_topic(self.bootstrap, self.prefix + topic, expect=expect, timeout=timeout)
        return [json.loads(record.value) for record in records]
