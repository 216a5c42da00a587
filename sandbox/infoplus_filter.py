"""The Infoplus search `filter` and `sort` grammar, as far as public examples show it.

Grammar (reference/infoplus-api.md §1; Infoplus does not document it, so this follows the
partner and third-party examples and refuses anything else with a 400):

    filter := clause ( " and " clause )*
    clause := field op value
    op     := eq | gt | lt | ge | le | like
    value  := 'text' | "text" | number | true | false

`eq` compares numerically when both sides are numbers (`orderNo eq 1234` matches 1234.0, and
`customerOrderNo eq 1001` matches "1001" as the Woo connector relies on); `gt/lt/ge/le` compare
numbers or ISO-8601 dates (a date without a zone is taken as UTC); `like` is SQL LIKE with `%`
and `_`, case-insensitive. `sort` is `field` or `!field` (descending), comma-separated; dates sort as instants.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<op>eq|gt|lt|ge|le|like)\s+"""
    r"""(?P<value>'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?(?![\w.])|true(?!\w)|false(?!\w))\s*""")
_AND = re.compile(r"(?<=\s)and\s+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt, "lt": operator.lt, "ge": operator.ge, "le": operator.le}


class FilterError(ValueError):
    """The filter or sort text is outside the grammar (the stand-in answers 400)."""


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: Any


def parse(text: str | None) -> list[Clause]:
    """Parse a filter; an empty or missing filter matches everything."""
    if not text or not text.strip():
        return []
    clauses, pos = [], 0
    while True:
        found = _CLAUSE.match(text, pos)
        if not found:
            raise FilterError(f"Invalid filter near: {text[pos:]!r}")
        clauses.append(Clause(found["field"], found["op"], _literal(found["value"])))
        pos = found.end()
        if pos == len(text):
            return clauses
        joined = _AND.match(text, pos)
        if not joined:
            raise FilterError(f"Expected 'and' near: {text[pos:]!r}")
        pos = joined.end()


def _literal(token: str) -> Any:
    if token[0] in "'\"":
        return token[1:-1]
    if token in ("true", "false"):
        return token == "true"
    return float(token) if "." in token else int(token)


def check_fields(clauses: Iterable[Clause], known: set[str]) -> None:
    """Refuse unknown field names, as a real API would (catches typos in our own queries)."""
    unknown = sorted({c.field for c in clauses} - known)
    if unknown:
        raise FilterError(f"Unknown field(s) in filter: {', '.join(unknown)}")


def matches(record: dict[str, Any], clauses: Iterable[Clause]) -> bool:
    return all(_test(record.get(c.field), c) for c in clauses)


def _test(actual: Any, clause: Clause) -> bool:
    if actual is None:
        return False
    if clause.op == "eq":
        return _equal(actual, clause.value)
    if clause.op == "like":
        return _like(str(actual), str(clause.value))
    left, right = _comparable(actual, clause)
    return _ORDER[clause.op](left, right)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return actual is wanted or str(actual).lower() == str(wanted).lower()
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return str(actual) == str(wanted)


def _like(actual: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, actual, re.IGNORECASE | re.DOTALL) is not None


def _comparable(actual: Any, clause: Clause) -> tuple[Any, Any]:
    left, right = _number(actual), _number(clause.value)
    if left is not None and right is not None:
        return left, right
    left, right = _date(actual), _date(clause.value)
    if left is not None and right is not None:
        return left, right
    raise FilterError(f"Cannot compare {clause.field} ({actual!r}) with {clause.value!r}")


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def sort_records(records: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """Sort by `field` / `!field` (descending), comma-separated; missing values go last."""
    rows = list(records)
    for key in reversed([k.strip() for k in (sort or "").split(",") if k.strip()]):
        descending, name = key.startswith("!"), key.lstrip("!")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise FilterError(f"Invalid sort: {key!r}")
        present = [r for r in rows if r.get(name) is not None]
        missing = [r for r in rows if r.get(name) is None]
        rows = sorted(present, key=lambda r: _sort_key(r[name]), reverse=descending) + missing
    return rows


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers, then dates as instants (`...Z` and `+00:00` forms of one moment sort together), then text."""
    number = _number(value)
    if number is not None:
        return (0, number)
    moment = _date(value)
    return (1, moment) if moment is not None else (2, str(value))
