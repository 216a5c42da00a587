"""Real service processes for tests: consumers run exactly as the Procfile runs them."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import requests
from werkzeug.serving import make_server

from tests.support.kafka import ROOT


class ServiceProcess:
    """`python -m <module>` from the repo root with the given environment; output goes to a log file."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self._module = module
        self._env = env
        self.log_path = log_path
        self._process: subprocess.Popen | None = None

    def start(self) -> "ServiceProcess":
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen([sys.executable, "-m", self._module], cwd=ROOT, env=self._env,
                                             stdout=log, stderr=subprocess.STDOUT)
        return self

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as an orchestrator stops a process; returns the exit code."""
        self._process.send_signal(signal.SIGTERM)
        return self._process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to commit or clean up."""
        self._process.kill()
        self._process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: the process stops dead (a long GC pause, a frozen VM) — its heartbeats too."""
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._process.send_signal(signal.SIGCONT)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop_quietly(self) -> None:
        if self.running():
            self._process.kill()
            self._process.wait(timeout=10)


class WebServer:
    """The Flask app behind a real HTTP server on 127.0.0.1 (werkzeug, threaded), in this process."""

    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "WebServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log_path: Path, *, ready_within: float) -> Iterator[str]:
    """The web tier as the Procfile runs it (gunicorn, config/gunicorn.py) on the environment's PORT: yields its base
    URL once /healthz answers, and stops it with SIGTERM however the test ends."""
    from tests.support.world import eventually  # world.py imports this module
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{env['PORT']}"
        try:
            eventually(lambda: answers(base + "/healthz"), ready_within, message="gunicorn serving")
            yield base
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def answers(url: str) -> bool:
    """True once `url` answers 200."""
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or a booting worker answering late on a loaded machine
        return False
