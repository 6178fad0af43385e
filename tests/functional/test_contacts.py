"""Contacts CRUD through the Chalice app: what a CRM integrator sees."""

from __future__ import annotations

import boto3

from chalicelib.settings import settings


def contact_count(tenant_id: str) -> int:
    table = boto3.client("dynamodb")
    answer = table.query(
        TableName=settings.contacts_table,
        KeyConditionExpression="tenantId = :t",
        ExpressionAttributeValues={":t": {"S": tenant_id}},
        Select="COUNT",
    )
    return int(answer["Count"])


def test_create_returns_the_contact_with_normalized_email_and_sorted_tags(acme):
    answer = acme.post(
        "/api/contacts",
        {"email": "  Alice@Example.COM ", "firstName": "Alice", "company": "Acme", "tags": ["vip", "b2b", "vip"]},
    )
    assert answer.status_code == 201
    contact = answer.json_body
    assert contact["email"] == "alice@example.com"
    assert contact["tags"] == ["b2b", "vip"]
    assert contact["source"] == "api"
    assert contact["subscription"] == "unconfirmed"
    assert contact["groupIds"] == [] and contact["customFields"] == {}
    assert contact["createdAt"].endswith("Z") and contact["deletedAt"] is None
    assert acme.get(f"/api/contacts/{contact['id']}").json_body == contact


def test_duplicate_email_is_a_conflict_and_writes_nothing(acme):
    acme.post("/api/contacts", {"email": "bob@example.com"})
    again = acme.post("/api/contacts", {"email": "BOB@example.com", "firstName": "Other"})
    assert again.status_code == 409
    assert again.json_body["error"]["code"] == "conflict"
    assert contact_count(acme.tenant_id) == 1


def test_duplicate_external_id_is_a_conflict(acme):
    assert acme.post("/api/contacts", {"email": "a@example.com", "externalId": "SF-1"}).status_code == 201
    answer = acme.post("/api/contacts", {"email": "b@example.com", "externalId": "SF-1"})
    assert answer.status_code == 409
    assert "externalId" in answer.json_body["error"]["message"]
    assert contact_count(acme.tenant_id) == 1


def test_invalid_fields_answer_422_with_details_and_write_nothing(acme):
    answer = acme.post(
        "/api/contacts",
        {"email": "not-an-email", "firstName": "x" * 256, "phone": "1" * 33, "tags": ["ok", ""], "nope": 1},
    )
    assert answer.status_code == 422
    error = answer.json_body["error"]
    assert error["code"] == "validation_error"
    fields = {d["field"] for d in error["details"]}
    assert {"email", "firstName", "phone", "tags[1]", "nope"} <= fields
    assert contact_count(acme.tenant_id) == 0


def test_limits_on_tags_and_custom_fields(acme):
    too_many_tags = acme.post("/api/contacts", {"email": "t@example.com", "tags": [f"t{i}" for i in range(501)]})
    assert too_many_tags.status_code == 422
    long_tag = acme.post("/api/contacts", {"email": "t@example.com", "tags": ["x" * 101]})
    assert long_tag.status_code == 422
    big_fields = acme.post("/api/contacts", {"email": "t@example.com", "customFields": {"blob": "x" * 8200}})
    assert big_fields.status_code == 422
    assert big_fields.json_body["error"]["details"][0]["field"] == "customFields"
    assert contact_count(acme.tenant_id) == 0
    at_limit = acme.post("/api/contacts", {"email": "t@example.com", "tags": [f"t{i}" for i in range(500)]})
    assert at_limit.status_code == 201


def test_patch_changes_only_given_fields_and_null_clears(acme):
    created = acme.post(
        "/api/contacts", {"email": "c@example.com", "firstName": "Carol", "company": "Acme", "status": "lead"}
    ).json_body
    answer = acme.patch(f"/api/contacts/{created['id']}", {"company": None, "status": "customer"})
    assert answer.status_code == 200
    patched = answer.json_body
    assert patched["firstName"] == "Carol"
    assert patched["company"] is None
    assert patched["status"] == "customer"
    assert patched["updatedAt"] >= created["updatedAt"]


def test_patch_refuses_null_email_and_unknown_fields(acme):
    created = acme.post("/api/contacts", {"email": "d@example.com"}).json_body
    assert acme.patch(f"/api/contacts/{created['id']}", {"email": None}).status_code == 422
    assert acme.patch(f"/api/contacts/{created['id']}", {"id": "other"}).status_code == 422
    assert acme.get(f"/api/contacts/{created['id']}").json_body["email"] == "d@example.com"


def test_patch_custom_fields_merge_and_null_key_removes(acme):
    created = acme.post("/api/contacts", {"email": "e@example.com", "customFields": {"plan": "pro", "seats": 3}})
    contact_id = created.json_body["id"]
    merged = acme.patch(f"/api/contacts/{contact_id}", {"customFields": {"seats": None, "sector": "Fintech"}})
    assert merged.json_body["customFields"] == {"plan": "pro", "sector": "Fintech"}
    cleared = acme.patch(f"/api/contacts/{contact_id}", {"customFields": None})
    assert cleared.json_body["customFields"] == {}


def test_email_change_keeps_the_id_and_moves_the_contact(acme):
    created = acme.post("/api/contacts", {"email": "old@example.com", "tags": ["vip"]}).json_body
    moved = acme.patch(f"/api/contacts/{created['id']}", {"email": "New@Example.com"})
    assert moved.status_code == 200
    assert moved.json_body["id"] == created["id"]
    assert acme.get(f"/api/contacts/{created['id']}").json_body["email"] == "new@example.com"
    # The old address is free again and the tag index follows the new one.
    assert acme.post("/api/contacts", {"email": "old@example.com"}).status_code == 201
    by_tag = acme.get("/api/contacts?tag=vip").json_body["data"]
    assert [c["email"] for c in by_tag] == ["new@example.com"]


def test_email_change_to_a_taken_email_is_a_conflict(acme):
    first = acme.post("/api/contacts", {"email": "one@example.com"}).json_body
    acme.post("/api/contacts", {"email": "two@example.com"})
    answer = acme.patch(f"/api/contacts/{first['id']}", {"email": "two@example.com"})
    assert answer.status_code == 409
    assert acme.get(f"/api/contacts/{first['id']}").json_body["email"] == "one@example.com"
    assert contact_count(acme.tenant_id) == 2


def test_external_id_change_frees_the_old_one(acme):
    first = acme.post("/api/contacts", {"email": "x1@example.com", "externalId": "SF-1"}).json_body
    assert acme.patch(f"/api/contacts/{first['id']}", {"externalId": "SF-2"}).status_code == 200
    assert acme.post("/api/contacts", {"email": "x2@example.com", "externalId": "SF-1"}).status_code == 201
    assert acme.post("/api/contacts", {"email": "x3@example.com", "externalId": "SF-2"}).status_code == 409


def test_archive_hides_from_lists_and_restore_brings_back(acme):
    created = acme.post("/api/contacts", {"email": "f@example.com", "tags": ["vip"]}).json_body
    archived = acme.delete(f"/api/contacts/{created['id']}")
    assert archived.status_code == 200
    assert archived.json_body == {"id": created["id"], "deleted": True}
    assert acme.get("/api/contacts").json_body["data"] == []
    assert acme.get("/api/contacts?tag=vip").json_body["data"] == []
    kept = acme.get(f"/api/contacts/{created['id']}").json_body
    assert kept["deletedAt"] is not None
    restored = acme.post(f"/api/contacts/{created['id']}/restore")
    assert restored.status_code == 200
    assert restored.json_body["deletedAt"] is None
    assert [c["id"] for c in acme.get("/api/contacts").json_body["data"]] == [created["id"]]


def test_permanent_delete_erases_contact_pointers_and_memberships(acme):
    created = acme.post("/api/contacts", {"email": "g@example.com", "externalId": "SF-9", "tags": ["vip"]}).json_body
    answer = acme.delete(f"/api/contacts/{created['id']}?permanent=true")
    assert answer.status_code == 200
    assert answer.json_body == {"id": created["id"], "deleted": True, "permanent": True}
    assert acme.get(f"/api/contacts/{created['id']}").status_code == 404
    assert contact_count(acme.tenant_id) == 0
    memberships = boto3.client("dynamodb").scan(TableName=settings.memberships_table)["Items"]
    # What is left is the tag catalog (docs/rotation.md): it names the tenant's tags, not contacts.
    assert [m["pk"]["S"] for m in memberships] == [f"{acme.tenant_id}#tags"]
    # The externalId is free again.
    assert acme.post("/api/contacts", {"email": "h@example.com", "externalId": "SF-9"}).status_code == 201


def test_tags_endpoints_add_and_remove(acme):
    created = acme.post("/api/contacts", {"email": "i@example.com", "tags": ["a"]}).json_body
    added = acme.post(f"/api/contacts/{created['id']}/tags", {"tags": ["c", "b", "a"]})
    assert added.status_code == 200
    assert added.json_body["tags"] == ["a", "b", "c"]
    removed = acme.delete(f"/api/contacts/{created['id']}/tags", {"tags": ["a", "zzz"]})
    assert removed.json_body["tags"] == ["b", "c"]
    assert [c["email"] for c in acme.get("/api/contacts?tag=b").json_body["data"]] == ["i@example.com"]
    assert acme.get("/api/contacts?tag=a").json_body["data"] == []


def test_tags_body_must_name_at_least_one_tag(acme):
    created = acme.post("/api/contacts", {"email": "j@example.com"}).json_body
    assert acme.post(f"/api/contacts/{created['id']}/tags", {"tags": []}).status_code == 422
    assert acme.post(f"/api/contacts/{created['id']}/tags", {}).status_code == 422


def test_tag_limit_applies_when_adding(acme):
    created = acme.post("/api/contacts", {"email": "k@example.com", "tags": [f"t{i}" for i in range(499)]}).json_body
    answer = acme.post(f"/api/contacts/{created['id']}/tags", {"tags": ["x", "y"]})
    assert answer.status_code == 422
    assert len(acme.get(f"/api/contacts/{created['id']}").json_body["tags"]) == 499


def test_unknown_contact_is_404_on_every_route(acme):
    missing = "00000000-0000-0000-0000-000000000000"
    assert acme.get(f"/api/contacts/{missing}").status_code == 404
    assert acme.patch(f"/api/contacts/{missing}", {"firstName": "x"}).status_code == 404
    assert acme.delete(f"/api/contacts/{missing}").status_code == 404
    assert acme.delete(f"/api/contacts/{missing}?permanent=true").status_code == 404
    assert acme.post(f"/api/contacts/{missing}/restore").status_code == 404
    answer = acme.post(f"/api/contacts/{missing}/tags", {"tags": ["x"]})
    assert answer.status_code == 404
    assert answer.json_body == {"error": {"code": "not_found", "message": "No such contact."}}


def test_patch_replaces_group_ids_and_refuses_unknown_groups(acme):
    first = acme.post("/api/groups", {"name": "One"}).json_body
    second = acme.post("/api/groups", {"name": "Two"}).json_body
    created = acme.post("/api/contacts", {"email": "grp@example.com", "groupIds": [first["id"]]}).json_body
    path = f"/api/contacts/{created['id']}"
    assert acme.patch(path, {"groupIds": [second["id"]]}).json_body["groupIds"] == [second["id"]]
    assert [c["email"] for c in acme.get(f"/api/contacts?group={second['id']}").json_body["data"]] == [
        "grp@example.com"
    ]
    assert acme.get(f"/api/contacts?group={first['id']}").json_body["data"] == []
    refused = acme.patch(path, {"groupIds": ["grp_unknown"]})
    assert refused.status_code == 422
    assert acme.get(path).json_body["groupIds"] == [second["id"]]
    assert acme.patch(path, {"groupIds": None}).json_body["groupIds"] == []


def test_custom_fields_limit_counts_utf8_bytes_not_escapes(acme):
    # 2,000 "é" are 4 KB of UTF-8 (12 KB if escaped as \\u00e9): within the 8 KB limit.
    accepted = acme.post("/api/contacts", {"email": "utf8@example.com", "customFields": {"k": "é" * 2000}})
    assert accepted.status_code == 201
    refused = acme.post("/api/contacts", {"email": "utf8b@example.com", "customFields": {"k": "é" * 4200}})
    assert refused.status_code == 422
