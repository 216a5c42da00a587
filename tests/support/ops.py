"""The ops console behind a real HTTP server for a test World, and a logged-in browser-like session."""
from __future__ import annotations

import re

import pytest
import requests

from tests.support.processes import WebServer

OPS_TOKEN = "ops-test-token-7f3a-5c2e-91d4"  # at least 24 characters (ops/auth.py)


@pytest.fixture
def console(world):
    from ops import create_app
    app = create_app(settings=world.settings(), token=OPS_TOKEN)
    server = WebServer(app).start()
    yield server.url
    server.stop()
    app.extensions["cartbridge_ops"].cluster.close()
    app.extensions["cartbridge_ops"].publisher.close()


def logged_in(url: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(url + "/login", data={"token": OPS_TOKEN}, headers={"Origin": url}, timeout=10)
    assert answer.status_code == 200 and "Connections" in answer.text, answer.text
    return session


def form_token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
