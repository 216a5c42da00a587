"""GraphQL for the Shopify stand-in, on graphql-core and Shopify's own Admin schema (sandbox/schemas/).

Every request is parsed, validated against the schema and its variables coerced to the declared input types
before any resolver runs; a request that fails any of these is refused as Shopify refuses it (HTTP 200, `errors`,
no `data`). Then the schema drives execution: the stand-in's resolvers only supply data — one method per root
field, returning plain dicts — and graphql-core keeps the fields the client selected, checks nullability and
serializes scalars and enums.

A dict may hold a callable in place of a field whose answer depends on its arguments (e.g.
`inventoryLevel(locationId:)`): it is called with the field's coerced arguments. A field the stand-in's data does
not supply is an error naming it, never a silent null.

Also Shopify's query costs: the static estimate before running, the actual cost after.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import graphql
from graphql import (DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLResolveInfo,
                     GraphQLSchema, InlineFragmentNode, OperationDefinitionNode, SelectionSetNode)
from graphql.execution.values import get_variable_values

CONNECTION_PARTS = ("edges", "node", "nodes", "pageInfo")
#: graphql-core's wording of an unknown field, and Shopify's (graphql-ruby's), which clients may match on.
_UNKNOWN_FIELD = re.compile(r"Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'\.")

RootResolver = Callable[[str, str, dict[str, Any]], Any]  # (operation type, root field, arguments) -> data


class GraphQLError(graphql.GraphQLError):
    """Raised by a resolver: the field answers null (or its nearest nullable parent does) and the message goes to
    `errors` with its path, as Shopify reports errors at run time."""

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions=extensions or None)


@dataclass
class Operation:
    """A request that passed parsing, validation and variable coercion."""

    document: DocumentNode
    definition: OperationDefinitionNode
    variables: dict[str, Any]  # coerced to the declared types
    raw_variables: dict[str, Any]  # as sent (graphql-core's execute coerces them itself)

    @property
    def kind(self) -> str:
        return self.definition.operation.value  # "query" | "mutation"

    @property
    def root_fields(self) -> list[FieldNode]:
        return list(_fields(self.definition.selection_set, self._fragments))

    @property
    def _fragments(self) -> dict[str, FragmentDefinitionNode]:
        return {d.name.value: d for d in self.document.definitions if isinstance(d, FragmentDefinitionNode)}


def prepare(schema: GraphQLSchema, query: str, variables: dict[str, Any],
            operation_name: str | None = None) -> Operation | list[dict[str, Any]]:
    """The request ready to run, or the errors Shopify would answer instead (nothing run, nothing charged)."""
    document = _checked(schema, query)
    if isinstance(document, tuple):
        return list(document)
    definition = graphql.get_operation_ast(document, operation_name)
    if definition is None:
        return [{"message": f"No operation named {operation_name!r}" if operation_name else
                 "An operation name is required when the document holds several"}]
    coerced = get_variable_values(schema, definition.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return [{**err.formatted, "extensions": {"code": "INVALID_VARIABLE"}} for err in coerced]
    return Operation(document, definition, coerced, variables)


@functools.lru_cache(maxsize=512)
def _checked(schema: GraphQLSchema, query: str) -> DocumentNode | tuple[dict[str, Any], ...]:
    """The parsed document, or why the schema refuses it. Cached: clients send the same few documents again
    and again, and parsing and validating one costs a few ms (the document is only read afterwards)."""
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError as err:
        return (err.formatted,)
    invalid = graphql.validate(schema, document)
    return tuple(_shopify_validation_error(err) for err in invalid) if invalid else document


def _shopify_validation_error(err: graphql.GraphQLError) -> dict[str, Any]:
    unknown = _UNKNOWN_FIELD.match(err.message)
    if unknown is None:
        return err.formatted
    return {**err.formatted, "message": f"Field '{unknown['field']}' doesn't exist on type '{unknown['type']}'",
            "extensions": {"code": "undefinedField", "typeName": unknown["type"], "fieldName": unknown["field"]}}


def execute(schema: GraphQLSchema, op: Operation, root: RootResolver) -> tuple[Any, list[dict[str, Any]]]:
    """Run the operation, each root field through `root`; returns (data, errors)."""
    result = graphql.execute(schema, op.document, variable_values=op.raw_variables,
                             operation_name=op.definition.name.value if op.definition.name else None,
                             field_resolver=_field_resolver(root))
    return result.data, [err.formatted for err in result.errors or ()]


def _field_resolver(root: RootResolver) -> Callable[..., Any]:
    def resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        if info.path.prev is None:
            return root(info.operation.operation.value, info.field_name, args)
        if not isinstance(source, dict) or info.field_name not in source:
            raise GraphQLError(f"The Shopify stand-in does not supply {info.parent_type.name}.{info.field_name}: "
                               f"add it to the stand-in's data (sandbox/shopify.py)", code="SANDBOX_UNSUPPORTED")
        value = source[info.field_name]
        return value(args) if callable(value) else value

    return resolve


# ---- costs ---------------------------------------------------------------------------------------------------
def requested_cost(op: Operation) -> int:
    """Shopify-style static cost: objects 1, connections 2 + first x child cost, mutations 10."""
    base = 10 * len(op.root_fields) if op.kind == "mutation" else 0
    return max(1, base + sum(_field_cost(f, op) for f in op.root_fields))


def _field_cost(field: FieldNode, op: Operation) -> int:
    if field.selection_set is None:
        return 0  # scalars are free
    children = sum(_field_cost(f, op) for f in _fields(field.selection_set, op._fragments))
    size = _argument(field, "first", op.variables)
    size = _argument(field, "last", op.variables) if size is None else size
    if isinstance(size, int):
        return 2 + size * max(children, 1)
    return children if field.name.value in CONNECTION_PARTS else 1 + children


def _argument(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    found = [a.value for a in field.arguments or () if a.name.value == name]
    return graphql.value_from_ast_untyped(found[0], variables) if found else None


def _fields(selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> Iterator[FieldNode]:
    """The fields of a selection set, fragments (inline or named) spread in place."""
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            yield from _fields(fragments[selection.name.value].selection_set, fragments)


def actual_cost(op: Operation, data: Any) -> int:
    """What the answer really cost: one point per object returned (plus 10 per mutation)."""
    base = 10 * len(op.root_fields) if op.kind == "mutation" else 0
    return max(1, base + _count_objects(data) - 1)  # the `data` wrapper itself is free


def _count_objects(value: Any) -> int:
    if isinstance(value, list):
        return sum(_count_objects(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(_count_objects(v) for v in value.values())
    return 0
