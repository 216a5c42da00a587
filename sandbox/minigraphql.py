"""Just enough GraphQL for a stand-in: parse one operation, resolve its root fields, and prune
each answer to the selection set the client asked for (so a client reading a field it did not
request gets nothing, as with the real API).

Supported: `query`/`mutation` (named or anonymous, variable definitions skipped), aliases,
arguments with variables and literals (strings, numbers, booleans, null, enums, lists, objects),
directives (ignored, e.g. `@idempotent(key: ...)`) and inline fragments (merged). Not supported:
named fragments and block strings; they raise GraphQLSyntaxError.

A resolved value may hold a callable in place of a field whose answer depends on its arguments
(e.g. `inventoryLevel(locationId:)`): it is called with the field's resolved arguments.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

_TOKEN = re.compile(r"""
    (?P<skip>[\s,]+|\#[^\n]*)
  | (?P<spread>\.\.\.)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<punct>[{}():$!\[\]=@|&])
""", re.VERBOSE)

CONNECTION_PARTS = ("edges", "node", "nodes", "pageInfo")


class GraphQLSyntaxError(ValueError):
    pass


class GraphQLError(Exception):
    """Raised by a resolver: the field answers null and the message goes to `errors`."""

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions = extensions


@dataclass(frozen=True)
class Var:
    name: str


@dataclass
class Field:
    name: str
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    selections: list["Field"] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class Operation:
    kind: str  # "query" | "mutation"
    fields: list[Field]


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if not found:
            raise GraphQLSyntaxError(f"Parse error on {text[pos:pos + 20]!r}")
        if found.lastgroup != "skip":
            yield found.lastgroup or "", found.group()
        pos = found.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = list(_tokens(text))
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise GraphQLSyntaxError("Parse error: unexpected end of document")
        kind, text = self.toks[self.i]
        if expected is not None and text != expected:
            raise GraphQLSyntaxError(f"Parse error on {text!r}: expected {expected!r}")
        self.i += 1
        return kind, text

    def name(self) -> str:
        kind, text = self.take()
        if kind != "name":
            raise GraphQLSyntaxError(f"Parse error on {text!r}: expected a name")
        return text

    def document(self) -> Operation:
        kind = "query"
        if self.peek() != "{":
            kind = self.name()
            if kind not in ("query", "mutation"):
                raise GraphQLSyntaxError(f"Unsupported operation type {kind!r}")
            if self.peek() not in ("{", "(", "@"):
                self.name()  # operation name
            if self.peek() == "(":
                self.skip_group("(", ")")  # variable definitions: we trust `variables`
            self.directives()
        fields = self.selection_set()
        if self.peek() is not None:
            raise GraphQLSyntaxError("Only one operation without fragments is supported")
        return Operation(kind, fields)

    def skip_group(self, opening: str, closing: str) -> None:
        depth = 0
        while True:
            _, text = self.take()
            depth += (text == opening) - (text == closing)
            if depth == 0:
                return

    def directives(self) -> None:
        while self.peek() == "@":
            self.take("@")
            self.name()
            if self.peek() == "(":
                self.arguments()

    def selection_set(self) -> list[Field]:
        self.take("{")
        fields: list[Field] = []
        while self.peek() != "}":
            fields.extend(self.selection())
        self.take("}")
        return fields

    def selection(self) -> list[Field]:
        if self.peek() == "...":
            return self.inline_fragment()
        name, alias = self.name(), None
        if self.peek() == ":":
            self.take(":")
            alias, name = name, self.name()
        args = self.arguments() if self.peek() == "(" else {}
        self.directives()
        selections = self.selection_set() if self.peek() == "{" else []
        return [Field(name, alias, args, selections)]

    def inline_fragment(self) -> list[Field]:
        self.take("...")
        if self.peek() != "on":
            raise GraphQLSyntaxError("Named fragments are not supported by the stand-in")
        self.take("on")
        self.name()
        self.directives()
        return self.selection_set()

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        args: dict[str, Any] = {}
        while self.peek() != ")":
            key = self.name()
            self.take(":")
            args[key] = self.value()
        self.take(")")
        return args

    def value(self) -> Any:
        kind, text = self.take()
        if text == "$":
            return Var(self.name())
        if text in ("[", "{"):
            return self.list_value() if text == "[" else self.object_value()
        if kind == "string":
            return json.loads(text)
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(text, text)
        raise GraphQLSyntaxError(f"Parse error on {text!r}: expected a value")

    def list_value(self) -> list[Any]:
        items = []
        while self.peek() != "]":
            items.append(self.value())
        self.take("]")
        return items

    def object_value(self) -> dict[str, Any]:
        obj = {}
        while self.peek() != "}":
            key = self.name()
            self.take(":")
            obj[key] = self.value()
        self.take("}")
        return obj


def parse(text: str) -> Operation:
    return _Parser(text).document()


def resolve_args(value: Any, variables: dict[str, Any]) -> Any:
    """Replace variables by their values, recursively."""
    if isinstance(value, Var):
        return variables.get(value.name)
    if isinstance(value, list):
        return [resolve_args(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: resolve_args(v, variables) for k, v in value.items()}
    return value


def select(value: Any, fld: Field, variables: dict[str, Any]) -> Any:
    """Prune a resolved value to `fld`'s selection set."""
    if isinstance(value, list):
        return [select(v, fld, variables) for v in value]
    if not fld.selections or not isinstance(value, dict):
        return value
    return {sub.key: select(_field_value(value, sub, variables), sub, variables)
            for sub in fld.selections}


def _field_value(obj: dict[str, Any], fld: Field, variables: dict[str, Any]) -> Any:
    value = obj.get(fld.name)
    return value(resolve_args(fld.args, variables)) if callable(value) else value


def execute(op: Operation, resolve: Callable[[Field, dict[str, Any]], Any],
            variables: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run each root field through `resolve(field, args)`; returns (data, errors)."""
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for root in op.fields:
        try:
            data[root.key] = select(resolve(root, resolve_args(root.args, variables)), root,
                                    variables)
        except GraphQLError as err:
            data[root.key] = None
            errors.append({"message": str(err), "path": [root.key],
                           **({"extensions": err.extensions} if err.extensions else {})})
    return data, errors


def requested_cost(op: Operation, variables: dict[str, Any]) -> int:
    """Shopify-style static cost: objects 1, connections 2 + first x child cost, mutations 10."""
    base = 10 * len(op.fields) if op.kind == "mutation" else 0
    return max(1, base + sum(_field_cost(f, variables) for f in op.fields))


def _field_cost(fld: Field, variables: dict[str, Any]) -> int:
    if not fld.selections:
        return 0  # scalars are free
    children = sum(_field_cost(f, variables) for f in fld.selections)
    size = resolve_args(fld.args.get("first", fld.args.get("last")), variables)
    if isinstance(size, int):
        return 2 + size * max(children, 1)
    return children if fld.name in CONNECTION_PARTS else 1 + children


def actual_cost(op: Operation, data: Any) -> int:
    """What the answer really cost: one point per object returned (plus 10 per mutation)."""
    base = 10 * len(op.fields) if op.kind == "mutation" else 0
    return max(1, base + _count_objects(data) - 1)  # the `data` wrapper itself is free


def _count_objects(value: Any) -> int:
    if isinstance(value, list):
        return sum(_count_objects(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(_count_objects(v) for v in value.values())
    return 0
