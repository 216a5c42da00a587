"""Reading request bodies: the raw bytes first (signatures cover them), JSON second."""
from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from webhooks.errors import NotJSON

# A cart order nests about 5 levels. Far deeper is no webhook, and the JSON encoder and decoder recurse: a body
# near the interpreter's recursion limit would parse here, then fail as its envelope is written or read again.
MAX_NESTING = 64
# `\ud800`-`\udfff` escapes: halves of a non-BMP character (an emoji), or, unpaired, no character at all.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def raw_body() -> bytes:
    """The exact bytes received; 413 past MAX_CONTENT_LENGTH, with or without a Content-Length."""
    body = request.get_data(cache=False)  # werkzeug refuses a Content-Length over the limit before reading
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    # A chunked body (no Content-Length) is read up to the limit and silently cut there: left so, the cut body
    # would fail its signature (401). A byte beyond the limit means the sender sent more than we take.
    if request.content_length is None and limit is not None and len(body) >= limit \
            and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return body


def parse_json(body: bytes) -> Any:
    """Strict JSON (RFC 8259) in UTF-8: what the event store and every consumer can read back; else NotJSON."""
    try:
        text = body.decode("utf-8")  # not json.loads(bytes): that would also guess UTF-16 and UTF-32
        payload = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, an integer of over 4300 digits
        raise NotJSON(str(error)) from None
    except RecursionError:
        raise NotJSON(f"nested more than {MAX_NESTING} levels") from None
    _check_nesting(text, payload)
    _check_unicode(text, payload)
    return payload


def _refuse_constant(name: str) -> Any:
    raise NotJSON(f"{name} is not a JSON value")  # Python's json reads NaN and Infinity; JSON has neither


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: valid JSON text, but no double holds it; it would be written as Infinity
        raise NotJSON(f"number {text[:40]} is out of range")
    return value


def _check_nesting(text: str, payload: Any) -> None:
    if text.count("[") + text.count("{") <= MAX_NESTING:  # cheap: most bodies cannot nest that deep at all
        return
    stack = [(payload, 1)]
    while stack:
        node, depth = stack.pop()
        for child in _children(node):
            if isinstance(child, (dict, list)):
                if depth >= MAX_NESTING:
                    raise NotJSON(f"nested more than {MAX_NESTING} levels")
                stack.append((child, depth + 1))


def _children(node: Any) -> Any:
    if isinstance(node, dict):
        return node.values()
    return node if isinstance(node, list) else ()


def _check_unicode(text: str, payload: Any) -> None:
    """An unpaired surrogate escape (`"\\ud800"`) decodes to a string no UTF-8 encoder accepts (I-JSON forbids it)."""
    if not _SURROGATE_ESCAPE.search(text):  # the usual case: no surrogate escapes at all
        return
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise NotJSON("a string holds an unpaired UTF-16 surrogate escape, which is not a character") from None
