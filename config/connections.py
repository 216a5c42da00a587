"""The connection registry: `CONNECTIONS_FILE`, validated at startup, re-read when it changes.

Ops flip a connection's switches by editing the file; every process notices within
`connections_reload_seconds` (a cheap mtime check on access, no restart, no watcher thread).
A file that turns bad while running is logged and ignored: the last good registry stays in force — also
for a gunicorn worker that boots while the file is bad: the master reads the file before each fork
(`hand_down_to_workers`, config/gunicorn.py) and the worker starts from the last good copy it inherits.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Callable, Iterable, Mapping

import yaml
from marshmallow import ValidationError

from schemas.connection import Connection, ConnectionSchema, WrittenInt
from signing import MIN_KEY_BYTES

log = logging.getLogger(__name__)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _RegistryLoader(yaml.SafeLoader):
    """YAML's safe loader, but timestamps stay text: the schema parses them and names the field when one is
    wrong (PyYAML would raise a bare ValueError for an unquoted `2026-13-01`, naming nothing)."""


_RegistryLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def _written_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> WrittenInt:
    """An integer that remembers its text, for the fields that are text but may be written as a number."""
    return WrittenInt(yaml.SafeLoader.construct_yaml_int(loader, node), node.value)


_RegistryLoader.add_constructor("tag:yaml.org,2002:int", _written_int)


class RegistryError(Exception):
    """The connections file cannot be used; the message names the connection and the field."""


# A check of a whole registry beyond each entry's schema; raises RegistryError. (connections, file path)
RegistryCheck = Callable[[Mapping[int, Connection], str], None]


def check_webhook_secrets(connections: Mapping[int, Connection], path: str) -> None:
    """For the web tier, which verifies deliveries with these secrets: each at least MIN_KEY_BYTES, and no two
    connections sharing one — a merchant who knows its own secret could otherwise post orders to another
    connection's URL. BigCommerce connections may share one: it signs with the app's client secret, the same for
    every store of the app, and its deliveries are told apart by their signed `producer` (the store)."""
    owners: dict[str, Connection] = {}
    for connection in connections.values():
        secret = connection.webhook_secret
        if not secret:
            continue  # a platform without webhooks (Magento)
        if len(secret.encode()) < MIN_KEY_BYTES:
            raise RegistryError(f"{path}: {_describe_connection(connection)}: field 'webhook_secret': shorter than "
                                f"{MIN_KEY_BYTES} bytes; use the cart's own generated secret")
        first = owners.setdefault(secret, connection)
        if first is not connection and not first.platform == connection.platform == "bigcommerce":
            raise RegistryError(f"{path}: connections {first.id} and {connection.id} share one webhook_secret: "
                                f"each connection needs its own")


def _describe_connection(connection: Connection) -> str:
    return f"connection {connection.id} ({connection.name})"


def _expand(value: object, env: Mapping[str, str], where: str) -> object:
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise RegistryError(f"{where}: environment variable {name} is not set")
        return env[name]

    return _VARIABLE.sub(lookup, value)


def _describe(index: int, raw: Mapping) -> str:
    return f"connection {raw.get('id', f'#{index + 1}')} ({raw.get('name', 'unnamed')})"


def _load_entry(index: int, raw: object, env: Mapping[str, str], path: str) -> Connection:
    if not isinstance(raw, dict):
        raise RegistryError(f"{path}: entry #{index + 1} is not a mapping")
    where = f"{path}: {_describe(index, raw)}"
    expanded = {key: _expand(value, env, f"{where}, field '{key}'") for key, value in raw.items()}
    try:
        return ConnectionSchema().load(expanded)
    except ValidationError as error:
        problems = "; ".join(f"field '{name}': {' '.join(map(str, msgs))}" for name, msgs in error.messages.items())
        raise RegistryError(f"{where}: {problems}") from None


def parse_connections(text: str, path: str, env: Mapping[str, str]) -> dict[int, Connection]:
    """Parse and validate the registry text; raises RegistryError naming what is wrong."""
    try:
        document = yaml.load(text, Loader=_RegistryLoader) or {}
    except yaml.YAMLError as error:
        raise RegistryError(f"{path}: not valid YAML: {error}") from None
    entries = document.get("connections") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise RegistryError(f"{path}: expected a top-level 'connections:' list")
    connections: dict[int, Connection] = {}
    for index, raw in enumerate(entries):
        connection = _load_entry(index, raw, env, path)
        if connection.id in connections:
            raise RegistryError(f"{path}: connection {connection.id} is listed twice")
        connections[connection.id] = connection
    return connections


_Snapshot = tuple[int, dict[int, Connection]]  # (file mtime_ns, connections)

# Set in a pre-fork server's master, inherited by every worker it forks: path -> the last good file read.
_handed_down: dict[str, _Snapshot] = {}


def hand_down_to_workers(path: str, env: Mapping[str, str] | None = None, check: RegistryCheck | None = None) -> None:
    """Read the file in the master of a pre-fork server, so a worker forked later boots with the last good
    registry even if the file has turned bad since. Raises RegistryError only while nothing good was read yet
    (a cold start with a bad file must refuse to start); afterwards a bad file keeps the previous copy."""
    try:
        _handed_down[path] = _read_file(path, os.environ if env is None else env, check)
    except RegistryError as error:
        if path not in _handed_down:
            raise
        log.error("connections file is bad; new workers start with the last good one: %s", error)


def _read_file(path: str, env: Mapping[str, str], check: RegistryCheck | None = None) -> _Snapshot:
    try:
        with open(path, encoding="utf-8") as handle:
            mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
            text = handle.read()
    except OSError as error:
        raise RegistryError(f"cannot read connections file {path}: {error.strerror}") from None
    connections = parse_connections(text, path, env)
    if check is not None:
        check(connections, path)
    return mtime_ns, connections


class ConnectionRegistry:
    """Thread-safe view of the connections file that reloads itself when the file changes; `check` refuses a file
    as a whole (e.g. check_webhook_secrets, for the web tier)."""

    def __init__(self, path: str, reload_seconds: float = 2.0, env: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic, check: RegistryCheck | None = None) -> None:
        self._path = path
        self._check = check
        self._reload_seconds = reload_seconds
        self._env = os.environ if env is None else env
        self._clock = clock
        self._lock = threading.Lock()
        self._mtime_ns, self._connections = self._first_read()
        self._refused_mtime_ns: int | None = None  # a bad file is reported once, not at every check
        self._checked_at = clock()

    def _first_read(self) -> _Snapshot:
        """The file now; if it is bad, the copy a server's master handed down, else the error stops the process."""
        try:
            return self._read()
        except RegistryError as error:
            if self._path not in _handed_down:
                raise
            log.error("connections file is bad; starting with the last good one the server read: %s", error)
            return _handed_down[self._path]

    def get(self, connection_id: int | str) -> Connection | None:
        try:
            key = int(connection_id)
        except (TypeError, ValueError):
            return None
        return self._current().get(key)

    def all(self) -> Iterable[Connection]:
        return list(self._current().values())

    def for_lob(self, lob_id: int) -> list[Connection]:
        return [c for c in self._current().values() if c.lob_id == lob_id]

    def _current(self) -> dict[int, Connection]:
        with self._lock:
            if self._clock() - self._checked_at >= self._reload_seconds:
                self._checked_at = self._clock()
                self._reload_if_changed()
            return self._connections

    def _reload_if_changed(self) -> None:
        try:
            mtime_ns = os.stat(self._path).st_mtime_ns
            if mtime_ns in (self._mtime_ns, self._refused_mtime_ns):
                return
            self._refused_mtime_ns = mtime_ns
            self._mtime_ns, self._connections = self._read()
            log.info("connections file %s reloaded: %d connections", self._path, len(self._connections))
        except (OSError, RegistryError) as error:
            log.error("connections file not reloaded, the previous one stays in force: %s", error)

    def _read(self) -> _Snapshot:
        return _read_file(self._path, self._env, self._check)
