"""A failed request never carries a header value in its message (issue 22, item 3), against a real local server."""
from __future__ import annotations

import traceback

import pytest

from outbound.errors import OutboundError
from outbound.http import new_session, send
from tests.outbound.hostile import HostileServer, plain

TOKEN = "shpat_do_not_print_me"


@pytest.fixture
def store():
    server = HostileServer()
    yield server
    server.stop()


@pytest.mark.parametrize("value", [TOKEN + "\n", " " + TOKEN, TOKEN + "\r\nX-Evil: 1"])
def test_a_header_requests_refuses_becomes_an_outbound_error_without_its_value(store, value):
    url = store.answer("/graphql.json", plain(200, b"{}"))
    with pytest.raises(OutboundError) as caught:
        send(new_session(), "POST", url, timeout=(1.0, 1.0), headers={"X-Shopify-Access-Token": value}, json={})
    printed = "".join(traceback.format_exception(caught.value))  # what log.exception would write, causes included
    assert TOKEN not in printed and TOKEN not in str(caught.value.details())
    assert store.received == []


def test_an_unreachable_host_names_the_failure_but_no_header(store):
    url = store.url("/x")
    store.stop()
    with pytest.raises(OutboundError) as caught:
        send(new_session(), "GET", url, timeout=(1.0, 1.0), headers={"X-Auth-Token": TOKEN})
    assert "ConnectionError" in str(caught.value)
    assert TOKEN not in "".join(traceback.format_exception(caught.value))
