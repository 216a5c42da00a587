"""Every outside answer is bounded (issue 22, item 1): against real, misbehaving HTTP servers on 127.0.0.1.

A merchant's own server — broken or hostile — must not pause a shared partition for good, keep a call open past its
deadline, fill memory or a dead letter, or receive our credentials for another host.
"""
from __future__ import annotations

import json
import time

import pytest

from outbound.errors import Permanent, Retryable
from outbound.http import MAX_RETRY_AFTER_SECONDS, new_session, send
from tests.outbound.hostile import HostileServer, cut_short, huge, plain, redirect, trickle, trickle_headers

TIMEOUT = (1.0, 1.0)


@pytest.fixture
def store():
    server = HostileServer()
    yield server
    server.stop()


# The HTTP date is fixed, not computed: every xdist worker must collect the same test ids.
@pytest.mark.parametrize("written", ["1e12", "inf", "99999999999999999999", "Fri, 01 Jan 2049 00:00:00 GMT"])
def test_a_huge_retry_after_is_clamped(store, written):
    url = store.answer("/busy", plain(429, b"{}", {"Retry-After": written}))
    with pytest.raises(Retryable) as caught:
        send(new_session(), "GET", url, timeout=TIMEOUT)
    assert 0 < caught.value.retry_after <= MAX_RETRY_AFTER_SECONDS <= 300


@pytest.mark.parametrize("written", ["soon", "nan", "-inf", "1e", ""])
def test_a_garbage_retry_after_reads_as_unsaid(store, written):
    url = store.answer("/busy", plain(503, b"{}", {"Retry-After": written}))
    with pytest.raises(Retryable) as caught:
        send(new_session(), "GET", url, timeout=TIMEOUT)
    assert caught.value.retry_after is None or 0 <= caught.value.retry_after <= MAX_RETRY_AFTER_SECONDS


def test_a_platform_reading_its_own_throttle_header_is_clamped_too(store):
    url = store.answer("/busy", plain(429, b"{}"))
    with pytest.raises(Retryable) as caught:
        send(new_session(), "GET", url, timeout=TIMEOUT, retry_after=lambda response: 1e12)
    assert caught.value.retry_after == MAX_RETRY_AFTER_SECONDS


def test_a_trickling_server_cannot_keep_a_call_open_past_its_deadline(store):
    url = store.answer("/slow", trickle(total_bytes=40, every_seconds=0.25))  # 10 s, each read well under 1 s
    started = time.monotonic()
    with pytest.raises(Retryable, match="deadline"):
        send(new_session(), "GET", url, timeout=TIMEOUT)
    assert time.monotonic() - started < 4.0  # connect 1 s + read 1 s is the whole call's budget, not each read's


def test_a_huge_error_body_is_capped_and_kept_short_in_the_dead_letter(store):
    url = store.answer("/bad", huge(400, megabytes=12))
    with pytest.raises(Permanent) as caught:
        send(new_session(), "POST", url, timeout=(1.0, 5.0), json={})
    kept = json.dumps(caught.value.details())
    assert len(kept) < 5_000
    assert len(caught.value.reason) < 500


def test_a_huge_success_body_is_refused_rather_than_read_whole(store):
    url = store.answer("/big", huge(200, megabytes=12))
    with pytest.raises(Permanent, match="MiB"):
        send(new_session(), "GET", url, timeout=(1.0, 5.0))


def test_a_redirect_is_not_followed_and_the_credentials_stay_home(store):
    elsewhere = HostileServer()
    try:
        target = elsewhere.answer("/steal", plain(200, b"{}"))
        url = store.answer("/orders", redirect(target))
        with pytest.raises(Permanent, match=f"redirect.*{target}"):
            send(new_session(), "GET", url, timeout=TIMEOUT, headers={"X-Auth-Token": "tok_secret_123"})
        assert elsewhere.received == []
    finally:
        elsewhere.stop()


def test_a_sound_answer_still_reads_as_before(store):
    url = store.answer("/ok", plain(200, json.dumps({"orders": [1, 2]}).encode()))
    response = send(new_session(), "GET", url, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json() == {"orders": [1, 2]}
    assert send(new_session(), "GET", store.url("/missing"), timeout=TIMEOUT).status_code == 404


def test_a_gzipped_answer_is_decoded(store):
    import gzip
    body = gzip.compress(json.dumps({"id": 7}).encode())
    url = store.answer("/gz", plain(200, body, {"Content-Encoding": "gzip"}))
    assert send(new_session(), "GET", url, timeout=TIMEOUT).json() == {"id": 7}


def test_a_server_trickling_its_headers_cannot_keep_a_call_open_past_its_deadline(store):
    url = store.answer("/slow-headers", trickle_headers(every_seconds=0.25))  # 15 s of headers
    started = time.monotonic()
    with pytest.raises(Retryable, match="deadline"):
        send(new_session(), "GET", url, timeout=TIMEOUT)
    assert time.monotonic() - started < 4.0


def test_an_answer_cut_short_is_retryable(store):
    url = store.answer("/cut", cut_short(promised=1000, sent=10))
    with pytest.raises(Retryable):
        send(new_session(), "GET", url, timeout=TIMEOUT)


def test_a_redirect_with_a_huge_body_is_not_read(store):
    def behave(handler):
        handler.send_response(302)
        handler.send_header("Location", "http://127.0.0.1:1/elsewhere")
        handler.send_header("Content-Length", str(200_000_000))
        handler.end_headers()
        block = b"x" * 65536
        for _ in range(200_000_000 // len(block)):
            handler.wfile.write(block)
    url = store.answer("/moved", behave)
    started = time.monotonic()
    with pytest.raises(Permanent, match="redirect to http://127.0.0.1:1/elsewhere"):
        send(new_session(), "GET", url, timeout=(1.0, 5.0))
    assert time.monotonic() - started < 3.0


def test_a_session_subclass_still_makes_the_call(store):
    class Counting(type(new_session())):
        made = 0

        def request(self, *args, **kwargs):
            Counting.made += 1
            return super().request(*args, **kwargs)

    url = store.answer("/ok", plain(200, b"{}"))
    assert send(Counting(), "GET", url, timeout=TIMEOUT).json() == {} and Counting.made == 1
