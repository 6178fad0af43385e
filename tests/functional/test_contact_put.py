"""PUT /api/contacts/{id}: PATCH's body and rules, update-only (the omnichannel vendor's and FluenzR's verb)."""

from __future__ import annotations

from tests.functional.dynamo import stored_counts


def test_put_changes_only_the_fields_sent_and_null_clears(acme):
    created = acme.post(
        "/api/contacts", {"email": "ann@example.com", "firstName": "Ann", "company": "Acme", "tags": ["a"]}
    ).json_body
    answer = acme.put(f"/api/contacts/{created['id']}", {"company": None, "status": "customer"})
    assert answer.status_code == 200
    body = answer.json_body
    assert (body["firstName"], body["company"], body["status"], body["tags"]) == ("Ann", None, "customer", ["a"])
    assert acme.get(f"/api/contacts/{created['id']}").json_body == body


def test_put_can_change_the_email_and_keeps_the_id(acme):
    created = acme.post("/api/contacts", {"email": "old@example.com"}).json_body
    moved = acme.put(f"/api/contacts/{created['id']}", {"email": "New@Example.com"}).json_body
    assert (moved["id"], moved["email"]) == (created["id"], "new@example.com")


def test_put_never_creates_a_contact(acme):
    before = stored_counts()
    answer = acme.put("/api/contacts/00000000-0000-0000-0000-000000000000", {"email": "ghost@example.com"})
    assert answer.status_code == 404
    assert answer.json_body["error"]["code"] == "not_found"
    assert stored_counts() == before


def test_put_to_a_taken_email_is_a_conflict_and_changes_nothing(acme):
    first = acme.post("/api/contacts", {"email": "one@example.com", "firstName": "One"}).json_body
    acme.post("/api/contacts", {"email": "two@example.com"})
    answer = acme.put(f"/api/contacts/{first['id']}", {"email": "two@example.com", "firstName": "Changed"})
    assert answer.status_code == 409
    assert answer.json_body["error"]["code"] == "conflict"
    assert acme.get(f"/api/contacts/{first['id']}").json_body == first


def test_put_with_invalid_fields_is_422_with_details_and_changes_nothing(acme):
    created = acme.post("/api/contacts", {"email": "ann@example.com", "firstName": "Ann"}).json_body
    for body, field in (
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"firstName": "x" * 256}, "firstName"),
        ({"subscription": "maybe"}, "subscription"),
        ({"id": "other"}, "id"),
        ({"groupIds": ["grp_unknown"]}, "groupIds"),
    ):
        answer = acme.put(f"/api/contacts/{created['id']}", body)
        assert answer.status_code == 422, body
        assert answer.json_body["error"]["code"] == "validation_error"
        assert field in {d["field"] for d in answer.json_body["error"]["details"]}
    assert acme.get(f"/api/contacts/{created['id']}").json_body == created


def test_put_without_a_json_body_is_400(acme):
    created = acme.post("/api/contacts", {"email": "ann@example.com"}).json_body
    assert acme.put(f"/api/contacts/{created['id']}", "{not json").status_code == 400


def test_put_of_another_tenants_contact_is_404(acme, globex):
    created = acme.post("/api/contacts", {"email": "ann@example.com"}).json_body
    assert globex.put(f"/api/contacts/{created['id']}", {"firstName": "Mallory"}).status_code == 404
    assert acme.get(f"/api/contacts/{created['id']}").json_body == created


def test_put_needs_the_write_scope(acme):
    created = acme.post("/api/contacts", {"email": "ann@example.com"}).json_body
    key = acme.post("/api/keys", {"name": "reader", "scopes": ["contacts:read"]}).json_body["key"]
    answer = acme.request("PUT", f"/api/contacts/{created['id']}", {"firstName": "x"}, headers={"X-Api-Key": key})
    assert answer.status_code == 403
