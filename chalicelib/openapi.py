"""The OpenAPI 3.1 document, generated from the route table and the code of each handler.

Nothing here lists routes. Every route declared with `Api.route` is documented from
what the handler itself does (docs/openapi.md):

- `parse_body(request, Model)` is the request body (required unless `empty=` is given),
  `parse_query(request, Model)` the query parameters, `query_flag` / `query_param` one more each;
- `render(service(...), status)` is an answer: the service function's return annotation at that status;
- a responder marked with `@answers(...)` (HTML pages, the reference page) says its own answers;
- the error statuses are those of the `chalicelib.errors` classes the handler can reach (following
  calls into chalicelib), plus 401/403 for keyed routes and 409 for idempotent ones.

A handler whose answer cannot be found this way makes `build` fail, so a route is never
silently left out (tests/unit/test_openapi.py builds the document of app.py).
"""

from __future__ import annotations

import ast
import builtins
import functools
import http
import inspect
import re
import textwrap
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any, TypeVar

from chalice.app import Chalice, Response
from pydantic import BaseModel

from chalicelib import errors, web
from chalicelib.schemas.errors import ErrorEnvelope

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
SECURITY_SCHEMES = {
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "`X-Api-Key: fli_...`"},
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer fli_...`"},
}
KEYED_SECURITY: list[dict[str, list[str]]] = [{"apiKeyHeader": []}, {"bearerKey": []}]
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Answer:
    """One documented answer of a responder that does not go through `render` (HTML, redirects, files)."""

    status: int
    media_type: str | None  # None: no body
    description: str
    schema: dict[str, Any] = field(default_factory=dict)
    headers: tuple[str, ...] = ()


def answers(*documented: Answer) -> Callable[[F], F]:
    """Mark a function that builds a Response itself with the answers it gives."""

    def mark(function: F) -> F:
        function.__openapi_answers__ = documented  # type: ignore[attr-defined]
        return function

    return mark


class UndocumentedRoute(Exception):
    """A handler whose answers the generator cannot find: use render(...) or mark its responder."""


@dataclass
class _Operation:
    body: type[BaseModel] | None = None
    body_required: bool = True
    queries: list[type[BaseModel]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    renders: list[tuple[int, type[BaseModel]]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    error_statuses: set[int] = field(default_factory=set)
    summary_from: list[Callable[..., Any]] = field(default_factory=list)


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return namespace.get(node.id, getattr(builtins, node.id, None))
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def _syntax(function: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None


def _own_code(value: Any) -> bool:
    module = getattr(value, "__module__", "") or ""
    return isinstance(value, FunctionType) and (module == "app" or module.startswith("chalicelib"))


def _error_statuses(function: Callable[..., Any], known: dict[Any, set[int]]) -> set[int]:
    """Statuses of every ApiError class `function` can reach through calls into this project's code.

    `known` memoises per function across routes; a function met again while its own scan is under
    way (recursion) counts as raising nothing more.
    """
    if function in known:
        return known[function]
    found: set[int] = set()
    known[function] = found
    tree = _syntax(function)
    if tree is None:
        return found
    namespace = getattr(function, "__globals__", {})
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name | ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        value = _resolve(node, namespace)
        if isinstance(value, type) and issubclass(value, errors.ApiError) and value is not errors.ApiError:
            found.add(value.status)
        elif _own_code(value):
            found |= _error_statuses(value, known)
    return found


def _model(node: ast.expr, namespace: dict[str, Any]) -> type[BaseModel]:
    value = _resolve(node, namespace)
    if not (isinstance(value, type) and issubclass(value, BaseModel)):
        raise UndocumentedRoute(f"{ast.unparse(node)} is not a pydantic model")
    return value


def _constant(node: ast.expr) -> Any:
    if not isinstance(node, ast.Constant):
        raise UndocumentedRoute(f"{ast.unparse(node)} must be a literal")
    return node.value


def _argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _returned_model(call: ast.expr, namespace: dict[str, Any]) -> tuple[type[BaseModel], Callable[..., Any]]:
    function = _resolve(call.func, namespace) if isinstance(call, ast.Call) else None
    if function is None:
        raise UndocumentedRoute(f"render({ast.unparse(call)}): pass a call of a service function")
    returned = typing.get_type_hints(function).get("return")
    if not (isinstance(returned, type) and issubclass(returned, BaseModel)):
        raise UndocumentedRoute(f"{function.__qualname__} has no pydantic return annotation")
    return returned, function


def _literal_schema(node: ast.expr) -> dict[str, Any]:
    """Schema of a dict literal like {"status": "ok"} (a handler answering Response({...}))."""
    if not isinstance(node, ast.Dict):
        raise UndocumentedRoute(f"Response({ast.unparse(node)}): use render(...) with a model")
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    properties = {
        _constant(key): {"type": names.get(type(_constant(value)), "string")}  # type: ignore[arg-type]
        for key, value in zip(node.keys, node.values, strict=True)
    }
    return {"type": "object", "properties": properties, "required": list(properties)}


def _analyse(view: Callable[..., Any], known: dict[Any, set[int]]) -> _Operation:
    tree = _syntax(view)
    if tree is None:
        raise UndocumentedRoute(f"no source for {view.__qualname__}")
    namespace = view.__globals__
    found = _Operation(error_statuses=set(_error_statuses(view, known)))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = _resolve(node.func, namespace)
        if function is web.parse_body:
            found.body = _model(node.args[1], namespace)
            found.body_required = all(k.arg != "empty" for k in node.keywords)
        elif function is web.parse_query:
            found.queries.append(_model(node.args[1], namespace))
        elif function is web.query_flag:
            found.flags.append(_constant(node.args[1]))
        elif function is web.query_param:
            found.params.append(_constant(node.args[1]))
        elif function is web.render:
            status = _argument(node, 1, "status")
            model, service = _returned_model(node.args[0], namespace)
            found.renders.append((_constant(status) if status is not None else 200, model))
            found.summary_from.append(service)
        elif function is Response and node.args:
            found.answers.append(Answer(200, "application/json", "OK", _literal_schema(node.args[0])))
        elif hasattr(function, "__openapi_answers__"):
            found.answers.extend(function.__openapi_answers__)
    if not found.renders and not found.answers:
        raise UndocumentedRoute(f"{view.__qualname__}: no render(...) and no responder marked with @answers")
    return found


def _summary(route: web.RouteInfo, operation: _Operation) -> tuple[str, str]:
    for function in (route.view, *operation.summary_from):
        doc = inspect.getdoc(function)
        if doc:
            first, _, rest = doc.partition("\n\n")
            return " ".join(first.split()), rest.strip()
    words = route.view.__name__.replace("_", " ")
    return words[:1].upper() + words[1:], ""


def _tag(path: str) -> str:
    segments = [s for s in path.split("/") if s and not s.startswith("{")]
    return segments[1] if len(segments) > 1 else "service"


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Answer"


class _Components:
    """Collects models and names them once, as `#/components/schemas/{Model}`."""

    def __init__(self) -> None:
        self.wanted: dict[tuple[type[BaseModel], str], None] = {}

    def ref(self, model: type[BaseModel], mode: str) -> tuple[type[BaseModel], str]:
        key = (model, mode)
        self.wanted[key] = None
        return key

    def resolve(self) -> tuple[dict[tuple[type[BaseModel], str], dict[str, Any]], dict[str, Any]]:
        from pydantic.json_schema import models_json_schema  # only when the document is built

        pairs: list[tuple[type[BaseModel], Any]] = list(self.wanted)
        refs, schema = models_json_schema(pairs, ref_template=REF)
        found: dict[tuple[type[BaseModel], str], dict[str, Any]] = {
            (model, mode): ref
            for (model, mode), ref in refs.items()
            if isinstance(model, type) and issubclass(model, BaseModel)
        }
        return found, dict(schema.get("$defs", {}))


def _query_parameters(
    operation: _Operation, refs: dict[tuple[type[BaseModel], str], dict[str, Any]], schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for model in operation.queries:
        component = schemas[refs[(model, "validation")]["$ref"].rsplit("/", 1)[1]]
        required = set(component.get("required", []))
        for name, schema in component.get("properties", {}).items():
            entry = {"name": name, "in": "query", "required": name in required, "schema": schema}
            if "description" in schema:
                entry["description"] = schema["description"]
            parameters.append(entry)
    for name in operation.flags:
        parameters.append({"name": name, "in": "query", "required": False, "schema": {"type": "boolean"}})
    for name in operation.params:
        parameters.append({"name": name, "in": "query", "required": False, "schema": {"type": "string"}})
    return parameters


def _responses(
    route: web.RouteInfo, operation: _Operation, refs: dict[tuple[type[BaseModel], str], dict[str, Any]]
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    by_status: dict[int, list[dict[str, Any]]] = {}
    for status, model in operation.renders:
        schema = refs[(model, "serialization")]
        if schema not in by_status.setdefault(status, []):
            by_status[status].append(schema)
    for status, schemas in sorted(by_status.items()):
        answer: dict[str, Any] = {
            "description": _phrase(status),
            "content": {"application/json": {"schema": schemas[0] if len(schemas) == 1 else {"oneOf": schemas}}},
        }
        if route.idempotent:
            answer["headers"] = {
                "Idempotent-Replayed": {
                    "description": "`true` when this is the stored answer of an earlier request with the same key.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        responses[str(status)] = answer
    for documented in operation.answers:
        entry: dict[str, Any] = {"description": documented.description}
        if documented.media_type:
            entry["content"] = {documented.media_type: {"schema": documented.schema or {"type": "string"}}}
        if documented.headers:
            entry["headers"] = {name: {"schema": {"type": "string"}} for name in documented.headers}
        same = responses.setdefault(str(documented.status), entry)
        if same is not entry:  # one status, several media types (a script or a style sheet)
            same.setdefault("content", {}).update(entry.get("content", {}))
    statuses = set(operation.error_statuses) | {500}
    if not route.public:
        statuses |= {401, 403}
    if route.idempotent:
        statuses |= {400, 409}
    if operation.body is not None:
        statuses |= {400}  # not JSON, or a Content-Type the route does not take
    if "{" in route.path:
        statuses |= {404}
    error_schema = refs[(ErrorEnvelope, "serialization")]
    for status in sorted(statuses):
        if str(status) in responses:
            continue
        error: dict[str, Any] = {
            "description": _phrase(status),
            "content": {"application/json": {"schema": error_schema}},
        }
        if status in (429, 503):
            error["headers"] = RETRY_AFTER
        responses[str(status)] = error
    return responses


def _operation(
    route: web.RouteInfo,
    operation: _Operation,
    refs: dict[tuple[type[BaseModel], str], dict[str, Any]],
    schemas: dict[str, Any],
) -> dict[str, Any]:
    summary, description = _summary(route, operation)
    access = "Public: no API key." if route.public else f"Scope `{route.scope}`."
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    parameters += _query_parameters(operation, refs, schemas)
    if route.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Replays the first answer for 24 hours; the same key with another body is a 409.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    documented: dict[str, Any] = {
        "operationId": route.view.__name__,
        "summary": summary,
        "description": f"{description}\n\n{access}".strip(),
        "tags": [_tag(route.path)],
        "security": [] if route.public else KEYED_SECURITY,
        "x-public": route.public,
    }
    if route.scope:
        documented["x-scope"] = route.scope
    if parameters:
        documented["parameters"] = parameters
    if operation.body is not None:
        schema = refs[(operation.body, "validation")]
        documented["requestBody"] = {
            "required": operation.body_required,
            "content": {media: {"schema": schema} for media in route.content_types},
        }
    documented["responses"] = _responses(route, operation, refs)
    return documented


def _routes(app: Chalice, api: web.Api) -> Iterable[web.RouteInfo]:
    """Every route of the app: those declared with Api.route, and any declared on Chalice directly (keyed)."""
    declared = {(r.path, r.method) for r in api.routes}
    yield from api.routes
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if (path, method) not in declared:
                view = getattr(entry.view_function, "__wrapped__", entry.view_function)
                yield web.RouteInfo(path, method, "contacts:read", False, tuple(entry.content_types), False, view)


def build(app: Chalice, api: web.Api, *, title: str = "Contacts API") -> dict[str, Any]:
    """The whole document (without `servers`, which depend on where the caller reached the API)."""
    routes = list(_routes(app, api))
    known: dict[Any, set[int]] = {}
    analysed = [(route, _analyse(route.view, known)) for route in routes]
    components = _Components()
    components.ref(ErrorEnvelope, "serialization")
    for _, operation in analysed:
        if operation.body is not None:
            components.ref(operation.body, "validation")
        for model in operation.queries:
            components.ref(model, "validation")
        for _, model in operation.renders:
            components.ref(model, "serialization")
    refs, schemas = components.resolve()
    paths: dict[str, dict[str, Any]] = {}
    for route, operation in analysed:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, operation, refs, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": API_VERSION,
            "description": "Multi-tenant contacts API. Errors always carry the `ErrorEnvelope`. "
            "Every route except the public ones takes an API key as `X-Api-Key` or `Authorization: Bearer`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES},
        "security": KEYED_SECURITY,
        "tags": [{"name": tag} for tag in sorted({_tag(route.path) for route in routes})],
    }


@functools.cache
def _cached(app: Chalice, api: web.Api) -> dict[str, Any]:
    return build(app, api)


def document(app: Chalice, api: web.Api, base_url: str | None) -> dict[str, Any]:
    """The document, built once per process, with `servers` set to where the caller reached the API."""
    built = _cached(app, api)
    return {**built, "servers": [{"url": base_url}]} if base_url else built
