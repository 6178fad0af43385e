"""What the schemathesis run (tests/fuzz) found, kept as plain regression tests."""

from __future__ import annotations

import json

from tests.functional.conftest import Caller


def test_idempotent_delete_with_a_query_string_replays_instead_of_failing(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "erase-me@example.com"}).json_body
    key = {"Idempotency-Key": "erase-1"}
    first = acme.delete(f"/api/contacts/{contact['id']}?permanent=true", headers=key)
    assert first.status_code == 200, first.body
    assert json.loads(first.body) == {"id": contact["id"], "deleted": True, "permanent": True}
    again = acme.delete(f"/api/contacts/{contact['id']}?permanent=true", headers=key)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert json.loads(again.body) == json.loads(first.body)
    other_query = acme.delete(f"/api/contacts/{contact['id']}?permanent=false", headers=key)
    assert other_query.status_code == 409  # the same key for another request


def test_unknown_contact_with_idempotency_key_and_query_is_a_404(acme: Caller) -> None:
    answer = acme.delete("/api/contacts/0?permanent=true", headers={"Idempotency-Key": "k"})
    assert answer.status_code == 404
    assert json.loads(answer.body)["error"]["code"] == "not_found"
