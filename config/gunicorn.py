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
