"""Every GraphQL document cartbridge can send to Shopify is valid against Shopify's own Admin schema for the API
version it calls (sandbox/schemas/): a query Shopify would refuse fails here first, naming the document.

The documents are found, not listed: every module-level string of carts/shopify/* that parses as an operation,
plus the fulfillment-request answers, formatted at run time by the product's own code. A call site that sends
anything else fails `test_every_call_site_sends_a_walked_document`.
"""
from __future__ import annotations

import ast
import io
import hashlib
import importlib
import pkgutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import urllib3
from graphql import GraphQLSyntaxError, OperationDefinitionNode, parse, validate

import carts.shopify
from carts.shopify import admin
from carts.shopify.fulfillment_service import ANSWERS, ShopifyFulfillmentService
from sandbox import schemas
from schemas.connection import Connection

PACKAGE_DIR = Path(carts.shopify.__file__).parent
# Call sites whose document is formatted at run time, and the function of this module that produces them.
RUNTIME_CALL_SITES = {("fulfillment_service.py", "answer")}


def constant_documents() -> Iterator[tuple[str, str]]:
    """(module.NAME, text) of every module-level string in carts/shopify that parses as a GraphQL operation."""
    for info in pkgutil.iter_modules([str(PACKAGE_DIR)]):
        module = importlib.import_module(f"carts.shopify.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, str) and _is_operation(value):
                yield f"{info.name}.{name}", value


def _is_operation(text: str) -> bool:
    if not text.lstrip().startswith(("query", "mutation", "{")):
        return False
    try:
        return all(isinstance(d, OperationDefinitionNode) for d in parse(text).definitions)
    except GraphQLSyntaxError:
        return False


class _Recorder(requests.Session):
    """A session that keeps each document it is asked to send and answers `{"data": {}}`, sending nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.sent.append(kwargs["json"]["query"])
        response = requests.Response()
        response.status_code = 200
        # A stream, as a real answer has: outbound/http.py reads bodies from it under a deadline and a size cap.
        response.raw = urllib3.HTTPResponse(body=io.BytesIO(b'{"data": {}}'), status=200, preload_content=False)
        return response


def answer_documents() -> Iterator[tuple[str, str]]:
    """The four fulfillment/cancellation request answers, as ShopifyFulfillmentService.answer formats them."""
    recorder = _Recorder()
    connection = Connection(id=1, name="Shop", platform="shopify", lob_id=1, order_source_id=1, warehouse_id=1,
                            default_carrier_id=1, webhook_secret="s", store_url="http://shop.invalid",
                            access_token="t")
    service = ShopifyFulfillmentService(connection, timeout=(1.0, 1.0), session=recorder)
    for request, accept in ANSWERS:
        service.answer(request, "gid://shopify/FulfillmentOrder/1", accept, "message")
        yield f"fulfillment_service.answer({request!r}, accept={accept})", recorder.sent[-1]


DOCUMENTS = dict([*constant_documents(), *answer_documents()])


def pinned_schema():
    path = schemas.schema_path(admin.API_VERSION)
    if not path.exists():
        pytest.fail(f"carts/shopify/admin.API_VERSION is {admin.API_VERSION!r} but {path.name} is not in "
                    f"sandbox/schemas/: vendor Shopify's schema of that version as sandbox/schemas/README.md says "
                    f"(npm pack @shopify/dev-mcp, dist/data/{path.name}), then rerun this module")
    return schemas.admin_schema(admin.API_VERSION)


def test_the_schema_of_the_version_cartbridge_calls_is_vendored():
    assert pinned_schema().query_type.name == "QueryRoot"


def test_each_vendored_schema_is_the_one_its_readme_names():
    readme = (schemas.SCHEMA_DIR / "README.md").read_text()
    for version in schemas.vendored_versions():
        path = schemas.schema_path(version)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"| `{path.name}` |" in readme and f"`{digest}`" in readme, (
            f"{path.name} (sha256 {digest}) is not the file sandbox/schemas/README.md names: refresh it as the "
            "README says, and update the README's table")


def test_every_document_is_found():
    # 18 constants (the tracking ones formatted once at import) and the 4 request answers, as of 2026-12.
    assert len(DOCUMENTS) >= 22, sorted(DOCUMENTS)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_is_valid_against_shopifys_schema(name):
    errors = validate(pinned_schema(), parse(DOCUMENTS[name]))
    assert not errors, f"{name} would be refused by Shopify {admin.API_VERSION}: " + "; ".join(
        e.message for e in errors)


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}


def _calls(tree: ast.AST, name: str) -> Iterator[ast.Call]:
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", getattr(call.func, "id", None)) == name:
            yield call


def _unseen(expr: ast.expr, function: ast.FunctionDef, tree: ast.Module, walked: set[str]) -> list[str]:
    """What a document argument may be that is not a walked constant: it is followed through conditional
    expressions, local assignments and parameters (to the arguments every caller in the module passes)."""
    if isinstance(expr, ast.IfExp):
        return _unseen(expr.body, function, tree, walked) + _unseen(expr.orelse, function, tree, walked)
    if not isinstance(expr, ast.Name):
        return [f"{function.name}: {ast.unparse(expr)}"]
    if expr.id in walked:
        return []
    assigned = [a.value for a in ast.walk(function) if isinstance(a, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == expr.id for t in a.targets)]
    if assigned:
        return [u for value in assigned for u in _unseen(value, function, tree, walked)]
    parameters = [a.arg for a in function.args.args if a.arg != "self"]
    if expr.id not in parameters:
        return [f"{function.name}: {expr.id}"]
    position, functions = parameters.index(expr.id), _functions(tree)
    callers = [(caller, call) for caller in functions.values() for call in _calls(caller, function.name)]
    return [u for caller, call in callers for u in _unseen(call.args[position], caller, tree, walked)]


def test_every_call_site_sends_a_walked_document():
    walked = {name.split(".", 1)[1] for name in DOCUMENTS if not name.endswith(")")}
    unseen = []
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for function in _functions(tree).values():
            if (path.name, function.name) not in RUNTIME_CALL_SITES:
                unseen += [f"{path.name} {u}" for call in _calls(function, "graphql")
                           for u in _unseen(call.args[0], function, tree, walked)]
    assert not unseen, ("these calls send a document this walk cannot see: make it a module-level constant of "
                        f"carts/shopify (or drive its function here, like the answers): {unseen}")
