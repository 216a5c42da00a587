"""gunicorn's side of prometheus_client's multiprocess mode (config/gunicorn.py calls these in the master).

prometheus_client picks its value storage when it is first imported, from PROMETHEUS_MULTIPROC_DIR: so the
variable is set here, in the master, before anything imports prometheus_client — this module must not import it
at the top — and every worker forked afterwards writes its values to files there.
"""
from __future__ import annotations

import os
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> str:
    """Before any worker starts: a fresh directory for the workers' metric files (a restart must not add the
    previous run's counts). PROMETHEUS_MULTIPROC_DIR if set (emptied first), else a new temporary directory."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
    else:
        path = tempfile.mkdtemp(prefix="cartbridge-metrics-")
        os.environ[MULTIPROC_ENV] = path  # inherited by the workers gunicorn forks
    return path


def worker_exited(pid: int) -> None:
    """A dead worker's live gauges leave the sum (its counters stay: what it counted happened)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(pid)
