"""The ops console's login, session and transport (issue 22, item 7), over real HTTP on 127.0.0.1."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.ops import OPS_TOKEN, form_token
from tests.support.processes import WebServer

ROOT = Path(__file__).resolve().parents[2]


def login(url: str, *, token: str = OPS_TOKEN, next_path: str | None = None, headers: dict | None = None,
          session: requests.Session | None = None) -> requests.Response:
    return (session or requests).post(url + "/login", params={"next": next_path} if next_path else None,
                                      data={"token": token}, headers={"Origin": url, **(headers or {})},
                                      allow_redirects=False, timeout=10)


@pytest.mark.parametrize("next_path", ["/\t/evil.com", "//evil.com", "/\\evil.com", "\\\\evil.com",
                                       "https://evil.com/", "http:/evil.com", "/x\r\nSet-Cookie: a=b", "javascript:x"])
def test_next_after_login_is_only_a_local_path(world, console, next_path):
    answer = login(console, next_path=next_path)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert urlsplit(location).netloc in ("", urlsplit(console).netloc) and urlsplit(location).path == "/", location


def test_a_local_next_is_kept(world, console):
    answer = login(console, next_path="/side?topic=cart.orders.dlq")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/side?topic=cart.orders.dlq")


def test_logout_ends_the_session_on_the_server(world, console):
    browser = requests.Session()  # logged in without following the redirect: the index is slow on a loaded machine
    assert login(console, session=browser).status_code == 302
    copied = requests.Session()
    copied.cookies.update(browser.cookies)  # a cookie someone copied while it was live
    assert copied.get(console + "/", allow_redirects=False, timeout=45).status_code == 200

    page = browser.get(console + "/", timeout=45).text
    browser.post(console + "/logout", data={"csrf": form_token(page)}, headers={"Origin": console}, timeout=45)

    after = copied.get(console + "/", allow_redirects=False, timeout=45)
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_failed_logins_are_throttled(world, console):
    answers = [login(console, token=f"guess-{n}-guess-guess-guess").status_code for n in range(12)]
    assert answers[:3] == [401, 401, 401] and answers[-1] == 429
    throttled = login(console)  # even the right token waits while this address is throttled
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    bearer = requests.get(console + "/", headers={"Authorization": "Bearer wrong-wrong-wrong-wrong-wrong"},
                          timeout=10)
    assert bearer.status_code == 429


@pytest.mark.parametrize("token", ["short", "x" * 23, " x" * 12 + " "])
def test_a_short_ops_token_refuses_to_start(world, token):
    from ops import create_app
    with pytest.raises(SystemExit, match="OPS_TOKEN.*24"):
        create_app(settings=world.settings(), token=token)


def test_the_documented_dev_token_and_the_test_token_are_long_enough():
    default = re.search(r'OPS_TOKEN="\$\{OPS_TOKEN:-([^}]+)\}"', (ROOT / "bin/dev").read_text()).group(1)
    assert len(default) >= 24 and len(OPS_TOKEN) >= 24
    assert default in (ROOT / "README.md").read_text() and "24" in (ROOT / "README.md").read_text()


@pytest.fixture
def proxied_console(world):
    """The console told that its proxy's X-Forwarded-Proto can be trusted (OPS_TRUST_FORWARDED_PROTO)."""
    from ops import create_app
    app = create_app({"OPS_TRUST_FORWARDED_PROTO": True}, settings=world.settings(), token=OPS_TOKEN)
    server = WebServer(app).start()
    yield server.url
    server.stop()
    app.extensions["cartbridge_ops"].cluster.close()
    app.extensions["cartbridge_ops"].publisher.close()


def test_the_cookie_is_secure_behind_a_trusted_https_proxy(world, proxied_console):
    answer = login(proxied_console, headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 302 and "Secure" in answer.headers["Set-Cookie"]


def test_a_forwarded_proto_is_ignored_unless_trusted(world, console):
    answer = login(console, headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 302 and "Secure" not in answer.headers["Set-Cookie"]  # plain http from loopback


def test_plain_http_from_another_address_is_refused(world):
    from ops import create_app
    app = create_app(settings=world.settings(), token=OPS_TOKEN)
    try:
        client = app.test_client()
        answer = client.get("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert answer.status_code == 403 and b"https" in answer.data
        assert client.get("/login", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    finally:
        app.extensions["cartbridge_ops"].cluster.close()
        app.extensions["cartbridge_ops"].publisher.close()
