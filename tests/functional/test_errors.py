"""Every error leaves in the envelope, with the documented status, and never with a stack trace."""

from __future__ import annotations

import boto3

from chalicelib.settings import settings
from tests.functional.test_contacts import contact_count


def test_malformed_json_is_a_400(acme):
    answer = acme.post("/api/contacts", '{"email": ')
    assert answer.status_code == 400
    assert answer.json_body == {"error": {"code": "bad_request", "message": "The body is not valid JSON."}}
    assert contact_count(acme.tenant_id) == 0


def test_empty_body_is_a_400(acme):
    assert acme.post("/api/contacts", "").status_code == 400


def test_json_that_is_not_an_object_is_a_422(acme):
    answer = acme.post("/api/contacts", "[1, 2]")
    assert answer.status_code == 422
    assert answer.json_body["error"]["details"][0]["field"] == "body"


def test_wrong_content_type_is_a_400(acme):
    answer = acme.post("/api/contacts", '{"email": "a@example.com"}', headers={"Content-Type": "text/plain"})
    assert answer.status_code == 400
    assert answer.json_body["error"]["code"] == "bad_request"
    assert contact_count(acme.tenant_id) == 0


def test_method_the_route_does_not_have_is_a_405_in_the_envelope(acme):
    answer = acme.request("PUT", "/api/contacts", {})
    assert answer.status_code == 405
    assert answer.json_body["error"]["code"] == "method_not_allowed"
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_an_internal_failure_is_a_500_without_a_stack_trace(acme):
    boto3.client("dynamodb").delete_table(TableName=settings.contacts_table)
    answer = acme.get("/api/contacts")
    assert answer.status_code == 500
    assert answer.json_body == {"error": {"code": "internal", "message": "An internal error occurred."}}
    assert b"Traceback" not in answer.body
