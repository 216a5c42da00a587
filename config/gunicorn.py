"""gunicorn settings for the `web` process (Procfile). Each can be overridden by its environment variable."""
import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
# Threads let requests waiting for the broker's acknowledgement overlap and share producer batches.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("WEB_THREADS", "8"))
# Carts give up after 5 s; a request is bounded by the publish timeout, so this only catches bugs.
timeout = 30
graceful_timeout = 20  # SIGTERM: finish requests in flight (their events are acknowledged) before exiting
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
wsgi_app = "webhooks:create_app()"


def _connections_file() -> str:
    from config.settings import Settings
    return Settings.from_env().connections_file


def on_starting(server) -> None:
    """Master, cold start: a bad connections file refuses to start, with the reason (nothing could serve)."""
    from config.connections import RegistryError, check_webhook_secrets, hand_down_to_workers
    try:
        hand_down_to_workers(_connections_file(), check=check_webhook_secrets)
    except RegistryError as error:
        raise SystemExit(f"cannot start: {error}") from None


def pre_fork(server, worker) -> None:
    """Master, before every fork: a worker booting while the file is bad (one recycled after a timeout, the second
    of a fresh start) starts with the last good registry instead of failing to boot — which would make gunicorn
    shut the whole server down."""
    from config.connections import check_webhook_secrets, hand_down_to_workers
    # Never raises once the cold start read a good file.
    hand_down_to_workers(_connections_file(), check=check_webhook_secrets)


def when_ready(server) -> None:
    """Master, before the first worker: a fresh directory for the workers' metric files (multiprocess mode); with
    METRICS_PORT set, the workers' sum is served there and the public port has no /metrics (DESIGN.md "Metrics")."""
    from metrics.multiproc import prepare_multiprocess_dir
    prepare_multiprocess_dir()
    from config.settings import Settings
    from metrics.server import serve_if_configured, workers_sum  # imported after the directory is set
    serve_if_configured(Settings.from_env().metrics_port, collect=workers_sum)


def child_exit(server, worker) -> None:
    """Master, a worker exited: its live gauges leave the sum /metrics reports."""
    from metrics.multiproc import worker_exited
    worker_exited(worker.pid)
