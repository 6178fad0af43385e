"""Idempotency-Key: a replay returns the first answer and changes nothing."""

from __future__ import annotations

import boto3

from chalicelib.services import idempotency
from chalicelib.settings import settings
from tests.functional.test_contacts import contact_count


def test_replay_returns_the_first_answer_and_creates_nothing(acme):
    headers = {"Idempotency-Key": "create-alice-1"}
    first = acme.post("/api/contacts", {"email": "alice@example.com"}, headers=headers)
    again = acme.post("/api/contacts", {"email": "alice@example.com"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json_body == first.json_body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert contact_count(acme.tenant_id) == 1


def test_same_key_with_another_body_is_a_conflict(acme):
    headers = {"Idempotency-Key": "k-2"}
    acme.post("/api/contacts", {"email": "a@example.com"}, headers=headers)
    answer = acme.post("/api/contacts", {"email": "b@example.com"}, headers=headers)
    assert answer.status_code == 409
    assert answer.json_body["error"]["code"] == "conflict"
    assert contact_count(acme.tenant_id) == 1


def test_same_key_on_another_route_is_a_conflict(acme):
    created = acme.post("/api/contacts", {"email": "c@example.com"}).json_body
    headers = {"Idempotency-Key": "k-3"}
    assert acme.patch(f"/api/contacts/{created['id']}", {"status": "a"}, headers=headers).status_code == 200
    other = acme.post("/api/contacts", {"status": "a"}, headers=headers)
    assert other.status_code == 409


def test_patch_and_delete_replay_without_changing_anything_again(acme):
    created = acme.post("/api/contacts", {"email": "d@example.com"}).json_body
    path = f"/api/contacts/{created['id']}"
    headers = {"Idempotency-Key": "patch-1"}
    first = acme.patch(path, {"status": "lead"}, headers=headers)
    acme.patch(path, {"status": "customer"})  # a later change by someone else
    replay = acme.patch(path, {"status": "lead"}, headers=headers)
    assert replay.json_body == first.json_body
    assert acme.get(path).json_body["status"] == "customer"
    delete_headers = {"Idempotency-Key": "delete-1"}
    assert acme.delete(path, headers=delete_headers).status_code == 200
    acme.post(path + "/restore")
    assert acme.delete(path, headers=delete_headers).headers.get("Idempotent-Replayed") == "true"
    assert acme.get(path).json_body["deletedAt"] is None


def test_a_failed_request_does_not_hold_the_key(acme):
    headers = {"Idempotency-Key": "retry-after-fix"}
    assert acme.post("/api/contacts", {"email": "bad"}, headers=headers).status_code == 422
    assert acme.post("/api/contacts", {"email": "bad"}, headers=headers).status_code == 422
    assert contact_count(acme.tenant_id) == 0


def test_keys_are_per_tenant(acme, globex):
    headers = {"Idempotency-Key": "same-key"}
    assert acme.post("/api/contacts", {"email": "e@example.com"}, headers=headers).status_code == 201
    theirs = globex.post("/api/contacts", {"email": "f@example.com"}, headers=headers)
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers


def test_an_expired_record_no_longer_replays(acme):
    headers = {"Idempotency-Key": "old"}
    acme.post("/api/contacts", {"email": "g@example.com"}, headers=headers)
    # TTL deletes lazily: the record may still be there after its expiry; it must not count.
    table = boto3.client("dynamodb")
    item = table.scan(
        TableName=settings.meta_table,
        FilterExpression="begins_with(sk, :s)",
        ExpressionAttributeValues={":s": {"S": "IDEMPOTENCY#old"}},
    )["Items"][0]
    item["expiresAt"] = {"N": "1000"}
    table.put_item(TableName=settings.meta_table, Item=item)
    answer = acme.post("/api/contacts", {"email": "g@example.com"}, headers=headers)
    assert answer.status_code == 409  # ran again: the email exists now
    assert answer.json_body["error"]["message"].startswith("A contact with this email")


def test_a_request_still_in_progress_is_a_conflict(acme):
    fingerprint_holder = idempotency.begin(acme.tenant_id, "busy", "fp")
    assert fingerprint_holder is None
    answer = acme.post("/api/contacts", {"email": "h@example.com"}, headers={"Idempotency-Key": "busy"})
    assert answer.status_code == 409
    assert contact_count(acme.tenant_id) == 0


def test_overlong_key_is_a_400(acme):
    answer = acme.post("/api/contacts", {"email": "i@example.com"}, headers={"Idempotency-Key": "k" * 256})
    assert answer.status_code == 400
    assert contact_count(acme.tenant_id) == 0
