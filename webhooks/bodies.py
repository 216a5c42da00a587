"""Reading request bodies: the raw bytes first (signatures cover them), JSON second."""
from __future__ import annotations

import json
from typing import Any

from flask import request

from webhooks.errors import NotJSON


def raw_body() -> bytes:
    """The exact bytes received; werkzeug raises 413 past MAX_CONTENT_LENGTH."""
    return request.get_data(cache=False)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotJSON(str(error)) from None
