"""API keys: scopes, hashing, revocation with immediate effect."""

from __future__ import annotations

import boto3

from chalicelib.services.auth import hash_key
from chalicelib.settings import settings
from tests.functional.conftest import Caller


def test_missing_unknown_or_malformed_key_is_401(client):
    answers = [
        client.http.get("/api/contacts"),
        client.http.get("/api/contacts", headers={"X-Api-Key": "fli_unknown"}),
        client.http.get("/api/contacts", headers={"Authorization": "Bearer nope"}),
        client.http.get("/api/contacts", headers={"Authorization": "Basic Zm9vOmJhcg=="}),
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.json_body["error"]["code"] == "unauthorized"


def test_bearer_header_works_like_x_api_key(acme):
    answer = acme.client.http.get("/api/contacts", headers={"Authorization": f"Bearer {acme.key}"})
    assert answer.status_code == 200


def test_health_needs_no_key(client):
    answer = client.http.get("/api/health")
    assert answer.status_code == 200
    assert answer.json_body == {"status": "ok"}


def test_created_key_is_shown_once_and_stored_only_as_a_hash(acme):
    answer = acme.post("/api/keys", {"name": "CRM sync", "scopes": ["contacts:write", "contacts:read"]})
    assert answer.status_code == 201
    created = answer.json_body
    assert created["key"].startswith("fli_") and len(created["key"]) >= 40
    assert created["scopes"] == ["contacts:read", "contacts:write"]
    listed = acme.get("/api/keys").json_body["data"]
    assert {k["name"] for k in listed} == {"default", "CRM sync"}
    assert all("key" not in k for k in listed)
    stored = boto3.client("dynamodb").scan(TableName=settings.meta_table)["Items"]
    dumped = repr(stored)
    assert created["key"] not in dumped
    assert hash_key(created["key"]) in dumped


def test_key_without_the_scope_is_403(acme):
    reader = acme.post("/api/keys", {"name": "reader", "scopes": ["contacts:read"]}).json_body
    as_reader = Caller(acme.client, acme.tenant_id, reader["key"])
    assert as_reader.get("/api/contacts").status_code == 200
    refused = as_reader.post("/api/contacts", {"email": "x@example.com"})
    assert refused.status_code == 403
    assert refused.json_body["error"]["code"] == "forbidden"
    assert as_reader.get("/api/keys").status_code == 403
    assert acme.get("/api/contacts").json_body["data"] == []


def test_revoked_key_is_refused_on_the_next_request(acme):
    writer = acme.post("/api/keys", {"name": "temp", "scopes": ["contacts:write"]}).json_body
    as_writer = Caller(acme.client, acme.tenant_id, writer["key"])
    assert as_writer.post("/api/contacts", {"email": "before@example.com"}).status_code == 201
    revoked = acme.delete(f"/api/keys/{writer['id']}")
    assert revoked.status_code == 200
    assert revoked.json_body["revokedAt"] is not None
    assert as_writer.post("/api/contacts", {"email": "after@example.com"}).status_code == 401
    listed = {k["id"]: k for k in acme.get("/api/keys").json_body["data"]}
    assert listed[writer["id"]]["revokedAt"] is not None


def test_key_body_is_validated(acme):
    assert acme.post("/api/keys", {"name": "x", "scopes": ["admin"]}).status_code == 422
    assert acme.post("/api/keys", {"name": "", "scopes": ["contacts:read"]}).status_code == 422
    assert acme.post("/api/keys", {"name": "x", "scopes": []}).status_code == 422
    assert len(acme.get("/api/keys").json_body["data"]) == 1


def test_unknown_key_id_is_404(acme):
    assert acme.delete("/api/keys/key_doesnotexist").status_code == 404
