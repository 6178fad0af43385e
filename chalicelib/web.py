"""HTTP glue between Chalice and the services: auth, bodies, idempotency, the error envelope.

Handlers in app.py are declared with `Api.route`, which authenticates the key,
checks its scope, applies Idempotency-Key semantics and hands the handler a
`Principal`. Every error, ours or Chalice's own, leaves through `error_envelope`.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalice.app import Chalice, CORSConfig, Request, Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from chalicelib import errors, jsonbody, observability
from chalicelib.schemas.common import Scope
from chalicelib.services import auth, idempotency
from chalicelib.settings import settings

log = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json"}
B = TypeVar("B", bound=BaseModel)
View = Callable[..., Response]


def render(model: BaseModel, status: int = 200, *, exclude_none: bool = False) -> Response:
    body = model.model_dump_json(exclude_none=exclude_none)
    return Response(body=body, status_code=status, headers=dict(JSON_HEADERS))


def render_error(error: errors.ApiError) -> Response:
    headers: dict[str, str | list[str]] = {**JSON_HEADERS, **error.headers}
    return Response(body=json.dumps(error.to_body()), status_code=error.status, headers=headers)


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def validation_details(error: PydanticValidationError) -> list[dict[str, str]]:
    return [
        {"field": _field_path(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")}
        for e in error.errors()
    ]


def validate(schema: type[B], data: Any) -> B:
    try:
        return schema.model_validate(data)
    except PydanticValidationError as error:
        raise errors.ValidationFailed("The request is not valid.", details=validation_details(error)) from None


def parse_body(request: Request, schema: type[B], *, empty: Any = None) -> B:
    """Decode a JSON body into `schema`: 400 when it is not JSON (or nests too deep, or holds NaN...,
    see chalicelib.jsonbody), 422 when it does not validate."""
    raw = request.raw_body or b""
    if not raw.strip():
        if empty is None:
            raise errors.BadRequest("A JSON body is required.")
        return validate(schema, empty)
    try:
        data = jsonbody.loads(raw)
    except jsonbody.InvalidJson as error:
        raise errors.BadRequest(str(error)) from None
    return validate(schema, data)


def parse_query(request: Request, schema: type[B]) -> B:
    return validate(schema, dict(request.query_params or {}))


def query_flag(request: Request, name: str) -> bool:
    params: Any = request.query_params or {}
    return bool(params.get(name) == "true")


def time_left(request: Request) -> Callable[[], float] | None:
    """Seconds the Lambda has left for this request (Chalice's local server and test client provide a context too)."""
    context = request.lambda_context
    if context is None:
        return None
    return lambda: float(context.get_remaining_time_in_millis()) / 1000


def query_param(request: Request, name: str) -> str | None:
    params: Any = request.query_params or {}
    value = params.get(name)
    return str(value) if value is not None else None


def public_base_url(request: Request) -> str:
    """This API's base URL as the caller reached it, for links in e-mails (PUBLIC_API_URL wins when set).

    On API Gateway's own domain the stage is the first segment of the path.
    """
    if settings.public_api_url:
        return settings.public_api_url
    headers = request.headers
    host = headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto", "https")
    stage = (request.context or {}).get("stage")
    prefix = f"/{stage}" if stage and host.endswith(".amazonaws.com") else ""
    return f"{scheme}://{host}{prefix}"


def lambda_time_left(context: Any) -> Callable[[], float] | None:
    """Seconds left of an event handler's invocation (None without a Lambda context)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return lambda: float(remaining()) / 1000


def api_key_of(request: Request) -> str | None:
    headers = request.headers
    key: str | None = headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class RouteInfo:
    """What `Api.route` knows of a route beyond Chalice's table; chalicelib/openapi.py documents from it."""

    path: str
    method: str
    scope: Scope | None
    idempotent: bool
    content_types: tuple[str, ...]
    any_origin: bool
    view: View

    @property
    def public(self) -> bool:
        return self.scope is None


class Api:
    """Declares routes on a Chalice app with authentication, scopes and idempotency."""

    def __init__(self, app: Chalice) -> None:
        self.app = app
        self.routes: list[RouteInfo] = []
        app.register_middleware(error_envelope, "http")

    def route(
        self,
        path: str,
        method: str,
        *,
        scope: Scope | None,
        idempotent: bool = False,
        content_types: list[str] | None = None,
        any_origin: bool = False,
    ) -> Callable[[View], View]:
        """`any_origin`: a public route for browsers on any site; every answer, errors included,
        carries `Access-Control-Allow-Origin: *` (errors are rendered here, inside the view, so
        that Chalice adds its CORS headers to them too)."""

        def decorate(view: View) -> View:
            @functools.wraps(view)
            def handler(**params: str) -> Response:
                request = self.app.current_request
                assert request is not None
                if scope is None:
                    try:
                        return view(request, **params)
                    except errors.ApiError as error:
                        if any_origin:
                            return render_error(error)
                        raise
                principal = auth.authenticate(api_key_of(request))
                observability.bind(tenant_id=principal.tenant_id, key_id=principal.key_id)
                auth.require_scope(principal, scope)
                key = request.headers.get("idempotency-key") if idempotent else None
                if key is None:
                    return view(request, principal, **params)
                return _run_idempotent(request, principal, key, lambda: view(request, principal, **params))

            cors = CORSConfig(allow_origin="*", max_age=600) if any_origin else None
            types = content_types or ["application/json"]
            self.app.route(path, methods=[method], content_types=types, cors=cors)(handler)
            self.routes.append(RouteInfo(path, method, scope, idempotent, tuple(types), any_origin, view))
            return handler

        return decorate


def _query_items(request: Request) -> list[tuple[str, list[str]]]:
    """The query string as sorted (name, every value) pairs: Chalice's MultiDict is not JSON-serialisable,
    and `?permanent=true` and `?permanent=false` must not share one idempotent answer."""
    params: Any = request.query_params or {}
    getlist = getattr(params, "getlist", None)
    return sorted((name, sorted(getlist(name)) if getlist else [str(params[name])]) for name in params)


def _run_idempotent(request: Request, principal: auth.Principal, key: str, run: Callable[[], Response]) -> Response:
    context = request.context or {}
    target = json.dumps(
        [context.get("resourcePath"), dict(request.uri_params or {}), _query_items(request)], sort_keys=True
    )
    body = request.raw_body or b""
    body = body.encode() if isinstance(body, str) else body
    stored = idempotency.begin(principal.tenant_id, key, idempotency.fingerprint(request.method, target, body))
    if stored is not None:
        return Response(stored.body, status_code=stored.status, headers={**JSON_HEADERS, "Idempotent-Replayed": "true"})
    try:
        response = run()
    except Exception:
        idempotency.finish(principal.tenant_id, key, 500, "")
        raise
    idempotency.finish(principal.tenant_id, key, response.status_code, str(response.body))
    return response


# Chalice answers some requests itself with {"Code", "Message"}; these give them our envelope.
_CHALICE_ERRORS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    405: errors.MethodNotAllowed,
    415: errors.BadRequest,
}


def _from_chalice(response: Response) -> Response:
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body):
        return response
    error_class = _CHALICE_ERRORS.get(response.status_code, errors.Internal)
    if response.status_code == 415:
        message = "Unsupported Content-Type: send application/json."
    elif error_class is errors.Internal:
        message = "An internal error occurred."
    else:
        message = str(body.get("Message", "The request is not valid."))
    rendered = render_error(error_class(message))
    for name, value in response.headers.items():
        if name == "Allow" or name.startswith("Access-Control-"):
            rendered.headers[name] = value
    return rendered


def error_envelope(event: Request, get_response: Callable[[Request], Response]) -> Response:
    try:
        response = get_response(event)
    except errors.ApiError as error:
        return render_error(error)
    except Exception:
        log.exception("unhandled error")  # the trace goes to the logs, never into the answer
        return render_error(errors.Internal("An internal error occurred."))
    return _from_chalice(response)
