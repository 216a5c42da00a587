"""Signature schemes: Shopify/WooCommerce base64 HMAC and Standard Webhooks (spec test vector)."""
from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from signing import SignatureError, StandardWebhooks, verify_base64_hmac

BODY = b'{"id":1}'


def test_base64_hmac_accepts_the_right_signature_and_refuses_others():
    good = base64.b64encode(hmac.new(b"key", BODY, hashlib.sha256).digest()).decode()
    verify_base64_hmac(BODY, good, "key")
    for header in (None, "", good[:-2] + "AA", base64.b64encode(b"x" * 32).decode()):
        with pytest.raises(SignatureError):
            verify_base64_hmac(BODY, header, "key")
    with pytest.raises(SignatureError):
        verify_base64_hmac(BODY + b" ", good, "key")


def test_standard_webhooks_matches_the_specs_test_vector():
    # From the Standard Webhooks reference libraries' tests.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    verifier = StandardWebhooks.from_secret(secret)
    body = b'{"test": 2432232314}'
    signature = verifier.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_webhooks_refuses_stale_timestamps_and_wrong_signatures():
    verifier = StandardWebhooks(b"key", tolerance_seconds=300)
    headers = {"webhook-id": "m1", "webhook-timestamp": "1000", "webhook-signature": verifier.sign("m1", 1000, BODY)}
    assert verifier.verify(headers, BODY, now=1100) == "m1"
    with pytest.raises(SignatureError, match="replay"):
        verifier.verify(headers, BODY, now=2000)
    with pytest.raises(SignatureError):
        verifier.verify({**headers, "webhook-signature": "v1,AAAA v1,BBBB"}, BODY, now=1100)
    with pytest.raises(SignatureError, match="missing"):
        verifier.verify({"webhook-id": "m1"}, BODY, now=1100)


def test_several_signatures_in_the_header_any_may_match():
    verifier = StandardWebhooks(b"key")
    good = verifier.sign("m1", 1000, BODY)
    headers = {"webhook-id": "m1", "webhook-timestamp": "1000", "webhook-signature": f"v1,AAAA {good}"}
    assert verifier.verify(headers, BODY, now=1000) == "m1"
