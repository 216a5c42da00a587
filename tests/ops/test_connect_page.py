"""The Connections page's Check / Connect buttons run `cartbridge-connect` (ops/connect.py) for one connection."""
from __future__ import annotations

import html

from ops.connect import main
from tests.ops.test_connect import BASE_URL, woo_connection
from tests.support.ops import form_token, logged_in
from tests.support.world import eventually


def test_the_console_buttons_check_and_connect_like_the_command(world, console, woo, monkeypatch, capsys):
    monkeypatch.setenv("CARTBRIDGE_PUBLIC_URL", BASE_URL)
    world.connections.append(woo_connection(woo, order_source_id=56))
    world.write_connections()
    browser = logged_in(console)
    page = eventually(lambda: (p := browser.get(console + "/", timeout=10)) and "cartbridge-connect 103" in p.text
                      and p, timeout=30, message="the console lists connection 103 (the registry reloads)")
    assert 'value="check"' in page.text

    def press(action: str) -> str:
        answer = browser.post(console + "/connect", headers={"Origin": console}, timeout=30,
                              data={"csrf": form_token(page.text), "connection": "103", "action": action})
        assert answer.status_code == 200, answer.text
        return html.unescape(answer.text)

    checked = press("check")
    assert "would subscribe" in checked and woo.webhooks() == []  # a check changes nothing
    connected = press("connect")
    assert "webhook order.created: created" in connected and "All set" in connected
    assert sorted(h["topic"] for h in woo.webhooks()) == ["order.created", "order.updated"]

    for name in ("CONNECTIONS_FILE", "INFOPLUS_BASE_URL", "INFOPLUS_API_KEY", "INFOPLUS_CALLS_PER_SECOND"):
        monkeypatch.setenv(name, world.environ()[name])
    assert main(["103"]) == 0  # the command finds what the button made, and changes nothing
    assert "webhook order.created: delivers to" in capsys.readouterr().out
    assert len(woo.webhooks()) == 2

    refused = browser.post(console + "/connect", headers={"Origin": console}, timeout=10,
                           data={"csrf": form_token(page.text), "connection": "999", "action": "connect"})
    assert refused.status_code == 400
