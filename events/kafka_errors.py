"""Why Kafka does not answer, in one line an operator can act on, and never with a secret in it.

kafka-python reports a refused password or an untrusted certificate only in its own logs — a burst of ERROR lines
and tracebacks per connection attempt, several a second — and then raises a bare "Unable to bootstrap" timeout.
This module turns that into one line naming the cause ("authentication failed", "certificate not trusted",
"client certificate refused"), logged once per cause every REPORT_EVERY_SECONDS, and remembers the cause so the
error cartbridge raises or logs itself (a 503, a consumer waiting for Kafka) names it too.

The filter is installed on kafka-python's network loggers when this module is imported (events.publisher,
events.topics and webhooks.health import it, so every process that talks to Kafka has it). Failures it does not
recognise (a broker that is down, a timeout) are left exactly as kafka-python logs them.
"""
from __future__ import annotations

import logging
import re
import ssl
import threading
import time

from kafka.errors import SaslAuthenticationFailedError, UnsupportedSaslMechanismError

AUTHENTICATION_FAILED = "authentication failed"
CERTIFICATE_NOT_TRUSTED = "certificate not trusted"
CLIENT_CERTIFICATE_REFUSED = "client certificate refused"
TLS_FAILED = "TLS handshake failed"

SECURED_CONNECTION_HINT = "SSLTransport"  # kafka-python's TLS transport (SASL_SSL and SSL) names itself so
BROKER_CLOSED = ("the broker closed the connection before saying why (kafka-python can lose the broker's answer "
                 "when the close follows at once): with TLS or SASL that is most often refused credentials or a "
                 "certificate the broker does not accept")
REPORT_EVERY_SECONDS = 60.0  # the same cause is logged again after this long, while it lasts
RECENT_SECONDS = 15.0
HOLD_SECONDS = 3.0  # kafka-python's other connection warnings wait this long for a security cause to explain them
MAX_HELD = 500  # a cause seen this recently explains a bare bootstrap timeout (bootstrap waits up to 5 s)
_KAFKA_NET_LOGGERS = ("kafka.net.manager", "kafka.net.connection", "kafka.net.transport")
_CLIENT_CERTIFICATE_ALERTS = ("ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REQUIRED", "ALERT_UNKNOWN_CA",
                              "ALERT_CERTIFICATE_UNKNOWN", "ALERT_HANDSHAKE_FAILURE")

_lock = threading.Lock()
_last_cause: tuple[str, float] | None = None  # (description, when) of the latest security failure seen
_reported: dict[str, float] = {}  # category -> when it was last logged


def cause_of(error: BaseException | None) -> str | None:
    """The security reason behind `error` (its chain and arguments searched), or None if it is not one."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found = _classify(current)
        if found:
            return found
        pending.extend([current.__cause__, current.__context__,
                        *(arg for arg in current.args if isinstance(arg, BaseException))])
    return None


def describe(error: BaseException) -> str:
    """What to tell an operator about a failed Kafka call: the security cause when there is one (in the error, or
    seen by kafka-python just before it gave up), else the error's class name."""
    return cause_of(error) or recent_cause() or error.__class__.__name__


def recent_cause() -> str | None:
    with _lock:
        if _last_cause and time.monotonic() - _last_cause[1] < RECENT_SECONDS:
            return _last_cause[0]
    return None


def warn(logger: logging.Logger, what: str, error: BaseException) -> None:
    """Log `what: <cause>; retrying`. A security cause is logged once per REPORT_EVERY_SECONDS (whoever saw it
    first — this call or kafka-python's own log line — says it); anything else is logged every time, as before."""
    cause = cause_of(error) or recent_cause()
    if cause is None:
        logger.warning("%s (%s); retrying", what, f"{error.__class__.__name__}: {error}")
    elif _claim(cause):
        logger.warning("%s: %s; retrying", what, cause)


def category(cause: str) -> str:
    """The fixed part of a cause ("authentication failed" …): safe to show anyone, e.g. on /readyz."""
    for name in (AUTHENTICATION_FAILED, CERTIFICATE_NOT_TRUSTED, CLIENT_CERTIFICATE_REFUSED, TLS_FAILED):
        if cause.startswith(name):
            return name
    return "unreachable"


def _classify(error: BaseException) -> str | None:
    if isinstance(error, SaslAuthenticationFailedError):
        said = str(error).rpartition("SaslAuthenticationFailedError: ")[2].strip() or "no reason given"
        return (f"{AUTHENTICATION_FAILED} (the broker says: {said}); "
                "check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
    if isinstance(error, UnsupportedSaslMechanismError):
        return f"{AUTHENTICATION_FAILED} ({error}); check KAFKA_SASL_MECHANISM"
    if isinstance(error, ssl.SSLCertVerificationError):
        return _not_trusted(error.verify_message)
    if isinstance(error, ssl.SSLError):
        reason = error.reason or str(error)
        if any(alert in reason for alert in _CLIENT_CERTIFICATE_ALERTS):
            return (f"{CLIENT_CERTIFICATE_REFUSED} by the broker ({reason}); "
                    "check KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE")
        return f"{TLS_FAILED} ({reason}); check KAFKA_SECURITY_PROTOCOL and the port"
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text:  # kafka-python kept only the SSL error's text
        return _not_trusted(re.sub(r"\s*\(_ssl\.c:\d+\)", "", text.rpartition("certificate verify failed: ")[2]))
    return None


def _not_trusted(why: str) -> str:
    return (f"{CERTIFICATE_NOT_TRUSTED} ({why}): the broker's certificate does not verify against "
            "KAFKA_SSL_CAFILE (or the system's CAs when it is unset)")


def _remember(cause: str) -> None:
    global _last_cause
    with _lock:
        _last_cause = (cause, time.monotonic())


def _claim(cause: str) -> bool:
    """True for the one caller that should log `cause` now."""
    now = time.monotonic()
    with _lock:
        key = category(cause)
        if now - _reported.get(key, -REPORT_EVERY_SECONDS) < REPORT_EVERY_SECONDS:
            return False
        _reported[key] = now
        return True


class _OneLinePerCause(logging.Filter):
    """On kafka-python's network loggers: a security failure becomes one clear line per REPORT_EVERY_SECONDS and
    the connection noise around it ("socket disconnected", "Bootstrap … failed", retries) is dropped.

    The noise often comes first: the broker answers a refused password and closes the connection, and when both
    arrive in one read kafka-python 3.0.12 drops the answer and reports only "socket disconnected". So other
    warnings and errors are held for HOLD_SECONDS: dropped if a security cause shows up meanwhile, otherwise
    logged as kafka-python wrote them (a broker that is down reads as before, a few seconds late)."""

    def __init__(self) -> None:
        super().__init__()
        self._held: list[tuple[float, logging.LogRecord]] = []
        self._held_lock = threading.Lock()
        self._releaser: threading.Thread | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_cartbridge_released", False):
            return True
        errors = [arg for arg in (record.args if isinstance(record.args, tuple) else ())
                  if isinstance(arg, BaseException)]
        if record.exc_info and record.exc_info[1] is not None:
            errors.append(record.exc_info[1])
        cause = next(filter(None, map(cause_of, errors)), None)
        if cause is None:
            if record.levelno < logging.WARNING:
                return True
            if recent_cause() is None:
                self._hold(record)
            return False
        _remember(cause)
        with self._held_lock:
            self._held.clear()  # what came just before was this failure's noise
        if not _claim(cause):
            return False
        record.msg, record.args = "Kafka connection failed: %s; retrying", (cause,)
        record.exc_info = record.exc_text = record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True

    def _hold(self, record: logging.LogRecord) -> None:
        with self._held_lock:
            self._held.append((time.monotonic(), record))
            overflow = self._held[:-MAX_HELD] if len(self._held) > MAX_HELD else []
            del self._held[:len(overflow)]
            if self._releaser is None or not self._releaser.is_alive():  # also after a fork
                self._releaser = threading.Thread(target=self._release_loop, name="kafka-log-release", daemon=True)
                self._releaser.start()
        self._release(record for _, record in overflow)

    def _release_loop(self) -> None:
        while True:
            time.sleep(HOLD_SECONDS / 4)
            now = time.monotonic()
            with self._held_lock:
                due = [record for held_at, record in self._held if now - held_at >= HOLD_SECONDS]
                del self._held[:len(due)]
            if recent_cause() is None:
                self._release(self._collapse_secured(due))

    @staticmethod
    def _collapse_secured(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
        """Noise from a TLS or SASL connection that no cause explained (records due together are one failure's):
        kafka-python lost the broker's answer on every try (the broker closes the connection right after
        refusing). One line a minute says so, instead of several ERRORs a second; a plain-text connection's noise
        (a broker that is down) is released as written."""
        if not any(SECURED_CONNECTION_HINT in record.getMessage() for record in records):
            return records
        if not _claim(BROKER_CLOSED):
            return []  # said within the last minute
        line = records[0]
        line.msg, line.args = "Kafka connection failed: %s; retrying", (BROKER_CLOSED,)
        line.exc_info = line.exc_text = line.stack_info = None
        line.levelno, line.levelname = logging.WARNING, "WARNING"
        return [line]

    @staticmethod
    def _release(records) -> None:
        for record in records:
            record._cartbridge_released = True
            logging.getLogger(record.name).handle(record)


_FILTER = _OneLinePerCause()


def install() -> None:
    """Idempotent: put the filter on kafka-python's network loggers."""
    for name in _KAFKA_NET_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


install()
