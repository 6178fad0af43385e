"""The OpenAPI document is generated from the code: every route is in it, valid, with its models and errors."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.app import Chalice, Request, Response
from openapi_spec_validator import validate
from pydantic import BaseModel

import app as application
from chalicelib import openapi
from chalicelib.schemas.common import Body
from chalicelib.web import Api, parse_body, render

PUBLIC = {
    ("/api/health", "GET"),
    ("/api/subscribe", "POST"),
    ("/api/subscribe/confirm", "GET"),
    ("/api/openapi.json", "GET"),
    ("/api/docs", "GET"),
    ("/api/docs/{asset}", "GET"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.build(application.app, application.api)


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(path, method.upper()): op for path, item in document["paths"].items() for method, op in item.items()}


def test_every_route_of_the_app_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    routes = {(path, method) for path, methods in application.app.routes.items() for method in methods}
    assert set(_operations(document)) == routes


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_keyed_routes_take_either_key_scheme_and_public_routes_are_marked(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKeyHeader"] == {**schemes["apiKeyHeader"], "type": "apiKey", "in": "header", "name": "X-Api-Key"}
    assert schemes["bearerKey"]["scheme"] == "bearer"
    for key, operation in _operations(document).items():
        if key in PUBLIC:
            assert operation["security"] == [] and operation["x-public"] is True, key
            assert "401" not in operation["responses"], key
        else:
            assert operation["security"] == [{"apiKeyHeader": []}, {"bearerKey": []}], key
            assert {"401", "403"} <= set(operation["responses"]), key
            assert operation["x-scope"] in {"contacts:read", "contacts:write", "webhooks:manage", "keys:manage"}


def test_every_error_answer_is_the_envelope(document: dict[str, Any]) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for key, operation in _operations(document).items():
        assert "500" in operation["responses"], key
        for status, answer in operation["responses"].items():
            media = answer.get("content", {})
            if int(status) >= 400 and "application/json" in media:
                assert media["application/json"]["schema"] == envelope, (key, status)
    assert set(document["components"]["schemas"]["ErrorEnvelope"]["properties"]) == {"error"}


def test_bodies_answers_and_parameters_come_from_the_handlers(document: dict[str, Any]) -> None:
    ops = _operations(document)
    create = ops[("/api/contacts", "POST")]
    assert create["requestBody"]["required"] is True
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContactCreate"
    }
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Contact"
    }
    assert {"409", "422"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])

    listing = {p["name"]: p for p in ops[("/api/contacts", "GET")]["parameters"]}
    assert listing["limit"]["schema"]["maximum"] == 100 and listing["limit"]["in"] == "query"

    delete = ops[("/api/contacts/{contact_id}", "DELETE")]
    names = {p["name"]: p["in"] for p in delete["parameters"]}
    assert names["contact_id"] == "path" and names["permanent"] == "query"

    assert ops[("/api/contacts/bulk", "POST")]["responses"].keys() >= {"200", "413"}
    subscribe = ops[("/api/subscribe", "POST")]
    assert set(subscribe["requestBody"]["content"]) == {"text/plain", "application/json"}
    assert subscribe["responses"]["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    detach = ops[("/api/groups/{group_id}/contacts/detach", "POST")]
    assert detach["requestBody"]["required"] is False  # an empty body detaches everyone
    confirm = ops[("/api/subscribe/confirm", "GET")]
    assert {"200", "302", "400"} <= set(confirm["responses"])
    assert "text/html" in confirm["responses"]["200"]["content"]


class _Widget(Body):
    name: str


class _WidgetOut(BaseModel):
    id: str
    name: str


def _make_widget(body: _Widget) -> _WidgetOut:
    """Make a widget.

    Widgets are an example."""
    return _WidgetOut(id="w1", name=body.name)


def test_a_new_route_is_documented_without_editing_any_list() -> None:
    fresh = Chalice(app_name="example")
    fresh_api = Api(fresh)

    @fresh_api.route("/api/widgets", "POST", scope="contacts:write", idempotent=True)
    def create_widget(request: Request, principal: Any) -> Response:
        return render(_make_widget(parse_body(request, _Widget)), 201)

    built = openapi.build(fresh, fresh_api)
    validate(built)
    operation = built["paths"]["/api/widgets"]["post"]
    assert operation["operationId"] == "create_widget"
    assert operation["summary"] == "Make a widget."
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/_Widget"}
    assert operation["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/_WidgetOut"
    }
    assert {"400", "401", "403", "409", "422", "500"} <= set(operation["responses"])


def test_a_handler_whose_answer_cannot_be_found_fails_the_build() -> None:
    fresh = Chalice(app_name="example")
    fresh_api = Api(fresh)

    @fresh_api.route("/api/odd", "GET", scope=None)
    def odd(request: Request) -> Response:
        answer = Response("?")
        return answer

    with pytest.raises(openapi.UndocumentedRoute):
        openapi.build(fresh, fresh_api)
