"""gunicorn settings for the `ops` console (Procfile): small — a few people look at it, and one worker keeps the
lag samples its scaling hint compares (ops/cluster.py)."""
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8001')}"
worker_class = "gthread"
workers = 1
threads = int(os.environ.get("OPS_THREADS", "4"))
timeout = 60  # a replay of many events waits for the broker's acknowledgements
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
wsgi_app = "ops:create_app()"
