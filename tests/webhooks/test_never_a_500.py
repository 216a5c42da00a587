"""Never a 500 for what a sender controls (issue 22, item 5), against the real web app on 127.0.0.1."""
from __future__ import annotations

import json
import logging
import time

import pytest
import requests

from signing import StandardWebhooks

SECRET = "whsec_dGVzdC1pbmZvcGx1cy1wdXNoLXNlY3JldA=="
ITEM = {"lobId": 10000, "sku": "SKU-1", "orderableQuantity": 30, "backorder": "No",
        "modifyDate": "2026-11-27T10:00:00.000Z"}


@pytest.mark.parametrize("timestamp", ["9" * 400, "-" + "9" * 400, "1" * 5000, "1e400", "0x10"])
def test_an_absurd_webhook_timestamp_is_401_not_500(world, timestamp):
    world.overrides["INFOPLUS_WEBHOOK_SECRET"] = SECRET
    body = json.dumps(ITEM).encode()
    signature = StandardWebhooks.from_secret(SECRET).sign("msg_1", int(time.time()), body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": timestamp, "webhook-signature": signature,
               "Content-Type": "application/json"}
    response = world.post("/webhooks/infoplus/inventory", body, headers)
    assert response.status_code == 401, response.text
    assert "timestamp" in response.json()["error"]


def test_control_characters_in_a_logged_path_are_escaped(world, caplog):
    caplog.set_level(logging.INFO, logger="webhooks")
    forged = "/webhooks/carts/999%0A2026-12-07 INFO webhooks accepted status=202%0D%1B[31m"
    response = requests.post(world.web_url + forged, data=b"{}", timeout=10)
    assert response.status_code == 404
    [line] = [record.getMessage() for record in caplog.records if "rejected" in record.getMessage()]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "\\n2026-12-07" in line  # still readable: the forged text shows as one escaped line
