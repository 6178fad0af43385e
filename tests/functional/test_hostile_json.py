"""Bodies that are JSON only in name: too deep, NaN/Infinity, overflowing numbers, lone surrogates.

Each is a 400 in the error envelope on every route that takes a body (the public subscribe
route and its text/plain body included), before anything runs: nothing is written.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.functional.conftest import Caller
from tests.functional.hostile import assert_error, everything_stored

# Every route that reads a body (ids need not exist: the body is parsed before anything is looked up).
BODY_ROUTES = [
    ("POST", "/api/contacts"),
    ("PATCH", "/api/contacts/c-1"),
    ("POST", "/api/contacts/search"),
    ("POST", "/api/contacts/c-1/tags"),
    ("DELETE", "/api/contacts/c-1/tags"),
    ("POST", "/api/contacts/c-1/groups"),
    ("DELETE", "/api/contacts/c-1/groups"),
    ("POST", "/api/contacts/bulk"),
    ("PATCH", "/api/contacts/bulk/tags"),
    ("POST", "/api/groups"),
    ("PATCH", "/api/groups/grp_x"),
    ("POST", "/api/groups/grp_x/contacts/attach"),
    ("POST", "/api/groups/grp_x/contacts/detach"),
    ("POST", "/api/webhooks"),
    ("PATCH", "/api/webhooks/wh_x"),
    ("POST", "/api/keys"),
    ("POST", "/api/tag-rotations"),
]


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def subscribe(acme: Caller, raw: str, content_type: str = "text/plain") -> object:
    return acme.client.http.post("/api/subscribe", headers={"Content-Type": content_type}, body=raw)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_nested_tens_of_thousands_of_levels_is_a_400_everywhere(acme: Caller, method: str, path: str) -> None:
    before = everything_stored()
    answer = acme.request(method, path, deep(50_000))
    error = assert_error(answer, 400, "bad_request")
    assert "nested deeper than 32" in error["message"]
    assert everything_stored() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_the_public_subscribe_route_refuses_deep_bodies_too(acme: Caller, content_type: str) -> None:
    before = everything_stored()
    answer = subscribe(acme, '{"group": "grp_x", "email": "a@example.com", "x": ' + deep(20_000) + "}", content_type)
    assert_error(answer, 400, "bad_request")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert everything_stored() == before


def test_thirty_two_levels_are_fine_and_thirty_three_are_not(acme: Caller) -> None:
    def body(levels: int) -> str:
        # The body object is level 1, filters level 2, customFields level 3, then nested values.
        value = "1"
        for _ in range(levels - 3):
            value = '{"a": ' + value + "}"
        return '{"filters": {"customFields": {"k": ' + value + "}}}"

    assert acme.post("/api/contacts/search", body(32)).status_code == 200
    assert_error(acme.post("/api/contacts/search", body(33)), 400, "bad_request")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_nan_infinity_and_overflowing_numbers_are_not_json(acme: Caller, literal: str) -> None:
    before = everything_stored()
    raw = '{"email": "nan@example.com", "customFields": {"score": ' + literal + "}}"
    error = assert_error(acme.post("/api/contacts", raw), 400, "bad_request")
    assert "JSON" in error["message"] or "too large" in error["message"]
    assert everything_stored() == before
    assert acme.get("/api/contacts").json_body["data"] == []


def test_a_lone_surrogate_is_refused_and_a_real_pair_is_kept(acme: Caller) -> None:
    before = everything_stored()
    lone = '{"email": "s@example.com", "firstName": "\\ud800x"}'
    assert_error(acme.post("/api/contacts", lone), 400, "bad_request")
    assert everything_stored() == before
    pair = '{"email": "s@example.com", "firstName": "\\ud83d\\ude00"}'
    created = acme.post("/api/contacts", pair)
    assert created.status_code == 201
    assert created.json_body["firstName"] == "\U0001f600"


def test_bytes_that_are_not_utf8_are_a_400(acme: Caller) -> None:
    before = everything_stored()
    assert_error(acme.post("/api/contacts", b'{"email": "\xff@example.com"}'), 400, "bad_request")
    assert everything_stored() == before


def test_a_cursor_hiding_deep_json_is_a_400(acme: Caller) -> None:
    cursor = base64.urlsafe_b64encode(deep(5_000).encode()).decode().rstrip("=")
    assert_error(acme.get(f"/api/contacts?cursor={cursor}"), 400, "bad_request")
    assert_error(acme.post("/api/contacts/search", json.dumps({"cursor": cursor})), 400, "bad_request")
    assert_error(acme.get(f"/api/groups?cursor={cursor}"), 400, "bad_request")
