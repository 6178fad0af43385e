"""Idempotency-Key on requests with a query string: the query is part of what the key stands for."""

from __future__ import annotations

from tests.functional.conftest import Caller
from tests.functional.hostile import assert_error


def test_a_gdpr_erase_with_a_key_erases_and_replays(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "gone@example.com"}).json_body
    path = f"/api/contacts/{contact['id']}?permanent=true"
    erased = acme.delete(path, headers={"Idempotency-Key": "erase-1"})
    assert erased.status_code == 200, erased.body
    assert erased.json_body == {"id": contact["id"], "deleted": True, "permanent": True}
    assert acme.get(f"/api/contacts/{contact['id']}").status_code == 404
    again = acme.delete(path, headers={"Idempotency-Key": "erase-1"})
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json_body == erased.json_body


def test_a_create_with_tracking_parameters_and_a_key(acme: Caller) -> None:
    headers = {"Idempotency-Key": "utm-1"}
    first = acme.post("/api/contacts?utm_source=x&utm_source=y", {"email": "utm@example.com"}, headers=headers)
    assert first.status_code == 201, first.body
    replay = acme.post("/api/contacts?utm_source=y&utm_source=x", {"email": "utm@example.com"}, headers=headers)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json_body == first.json_body
    assert len(acme.get("/api/contacts").json_body["data"]) == 1


def test_the_same_key_with_another_query_is_a_conflict_and_changes_nothing(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "kept@example.com"}).json_body
    path = f"/api/contacts/{contact['id']}"
    archived = acme.delete(path + "?permanent=false", headers={"Idempotency-Key": "del-1"})
    assert archived.status_code == 200 and "permanent" not in archived.json_body
    assert_error(acme.delete(path + "?permanent=true", headers={"Idempotency-Key": "del-1"}), 409, "conflict")
    assert acme.get(path).json_body["deletedAt"] is not None  # archived, not erased
