"""POST /api/contacts/bulk: every option of the contract, per-row errors and limits."""

from __future__ import annotations

from typing import Any

from tests.functional.conftest import Caller
from tests.functional.dynamo import stored_counts
from tests.functional.stream import RelayPump


def bulk(caller: Caller, rows: list[Any], **options: Any) -> dict[str, Any]:
    response = caller.post("/api/contacts/bulk", {"contacts": rows, **options})
    assert response.status_code == 200, response.body
    answer: dict[str, Any] = response.json_body
    counted = answer["created"] + answer["updated"] + answer["unchanged"] + answer["skipped"] + len(answer["errors"])
    assert answer["totalSubmitted"] == len(rows) == counted
    return answer


def contact_by_email(caller: Caller, email: str) -> dict[str, Any]:
    found = caller.post("/api/contacts/search", {"query": email, "limit": 100}).json_body["data"]
    matches = [c for c in found if c["email"] == email]
    assert len(matches) == 1, found
    return matches[0]


def test_creates_new_contacts_and_updates_existing_ones(acme: Caller) -> None:
    existing = acme.post("/api/contacts", {"email": "old@example.com", "firstName": "Old", "company": "Keep"}).json_body
    answer = bulk(acme, [{"email": "OLD@example.com", "firstName": "New"}, {"email": "fresh@example.com"}])
    assert (answer["created"], answer["updated"], answer["errors"]) == (1, 1, [])
    updated = acme.get(f"/api/contacts/{existing['id']}").json_body
    assert updated["firstName"] == "New"
    assert updated["company"] == "Keep"  # not sent, left alone
    assert updated["source"] == "api"
    fresh = contact_by_email(acme, "fresh@example.com")
    assert fresh["source"] == "bulk"
    assert fresh["subscription"] == "unconfirmed"
    assert acme.get(f"/api/contacts/{fresh['id']}").status_code == 200


def test_null_fields_leave_stored_values_alone_and_tags_are_added(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "a@example.com", "phone": "123", "tags": ["old"], "customFields": {"x": 1}})
    rows = [{"email": "a@example.com", "phone": None, "tags": ["row"], "customFields": {"y": 2}}]
    answer = bulk(acme, rows, tags=["import:2026-q1"])
    assert answer["updated"] == 1
    contact = contact_by_email(acme, "a@example.com")
    assert contact["phone"] == "123"
    assert contact["tags"] == ["import:2026-q1", "old", "row"]
    assert contact["customFields"] == {"x": 1, "y": 2}


def test_top_level_tags_are_stamped_on_created_and_updated_rows(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "a@example.com"})
    bulk(acme, [{"email": "a@example.com"}, {"email": "b@example.com", "tags": ["r"]}], tags=["stamp"])
    tagged = acme.get("/api/contacts?tag=stamp").json_body["data"]
    assert sorted(c["email"] for c in tagged) == ["a@example.com", "b@example.com"]
    assert [c["email"] for c in acme.get("/api/contacts?tag=r").json_body["data"]] == ["b@example.com"]


def test_unchanged_rows_are_counted_and_write_nothing(acme: Caller) -> None:
    bulk(acme, [{"email": "a@example.com", "firstName": "A", "tags": ["t"]}])
    before = contact_by_email(acme, "a@example.com")
    answer = bulk(acme, [{"email": "a@example.com", "firstName": "A", "tags": ["t"]}], returnResults=True)
    assert answer["unchanged"] == 1
    assert answer["results"] == [{"index": 0, "id": before["id"], "email": "a@example.com", "action": "unchanged"}]
    assert contact_by_email(acme, "a@example.com")["updatedAt"] == before["updatedAt"]


def test_row_errors_are_reported_and_the_rest_goes_in(acme: Caller) -> None:
    rows: list[Any] = [
        {"email": "ok@example.com"},
        {"email": "not-an-email"},
        {"firstName": "no email"},
        "not an object",
        {"email": "x@example.com", "unknownField": 1},
        {"email": "long@example.com", "firstName": "x" * 256},
        {"email": "tags@example.com", "tags": [f"t{i}" for i in range(501)]},
    ]
    before = stored_counts()
    answer = bulk(acme, rows)
    assert answer["created"] == 1
    assert [e["index"] for e in answer["errors"]] == [1, 2, 3, 4, 5, 6]
    assert {e["code"] for e in answer["errors"]} == {"validation_error"}
    assert answer["errors"][0]["email"] == "not-an-email"
    assert "contacts[1].email" in answer["errors"][0]["message"]
    assert answer["errors"][2]["email"] is None
    after = stored_counts()
    assert after != before
    assert acme.get("/api/contacts").json_body["data"][0]["email"] == "ok@example.com"
    assert len(acme.get("/api/contacts").json_body["data"]) == 1


def test_merged_tags_over_the_limit_are_a_row_error(acme: Caller) -> None:
    bulk(acme, [{"email": "a@example.com", "tags": [f"t{i}" for i in range(500)]}])
    answer = bulk(acme, [{"email": "a@example.com", "firstName": "A"}, {"email": "b@example.com"}], tags=["one-more"])
    assert answer["errors"][0]["index"] == 0
    assert answer["created"] == 1
    assert contact_by_email(acme, "a@example.com")["firstName"] is None


def test_rows_repeating_an_identity_are_applied_in_order(acme: Caller) -> None:
    rows = [
        {"email": "dup@example.com", "firstName": "One", "tags": ["a"]},
        {"email": "Dup@Example.com", "firstName": "Two", "company": "C", "tags": ["b"]},
        {"email": "dup@example.com", "firstName": "Two"},
    ]
    answer = bulk(acme, rows, returnResults=True)
    assert [r["action"] for r in answer["results"]] == ["created", "updated", "unchanged"]
    assert len({r["id"] for r in answer["results"]}) == 1
    contact = contact_by_email(acme, "dup@example.com")
    assert (contact["firstName"], contact["company"], contact["tags"]) == ("Two", "C", ["a", "b"])


def test_on_duplicate_skip_leaves_matches_alone(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "a@example.com", "firstName": "Kept"})
    rows = [{"email": "a@example.com", "firstName": "Ignored"}, {"email": "b@example.com"}, {"email": "b@example.com"}]
    answer = bulk(acme, rows, onDuplicate="skip", returnResults=True)
    assert [r["action"] for r in answer["results"]] == ["skipped", "created", "skipped"]
    assert contact_by_email(acme, "a@example.com")["firstName"] == "Kept"


def test_archived_matches_are_skipped_unless_restore_deleted(acme: Caller) -> None:
    created = acme.post("/api/contacts", {"email": "gone@example.com"}).json_body
    acme.delete(f"/api/contacts/{created['id']}")
    answer = bulk(acme, [{"email": "gone@example.com", "firstName": "Back"}])
    assert answer["skipped"] == 1
    assert acme.get(f"/api/contacts/{created['id']}").json_body["deletedAt"] is not None
    answer = bulk(acme, [{"email": "gone@example.com", "firstName": "Back"}], restoreDeleted=True)
    assert answer["updated"] == 1
    restored = acme.get(f"/api/contacts/{created['id']}").json_body
    assert (restored["deletedAt"], restored["firstName"]) == (None, "Back")


def test_dedupe_on_external_id_matches_and_moves_the_email(acme: Caller) -> None:
    created = acme.post("/api/contacts", {"email": "before@example.com", "externalId": "SF-1", "tags": ["t"]}).json_body
    rows = [{"externalId": "SF-1", "email": "after@example.com"}, {"externalId": "SF-2", "email": "new@example.com"}]
    answer = bulk(acme, rows, dedupeOn="externalId", returnResults=True)
    assert [r["action"] for r in answer["results"]] == ["updated", "created"]
    assert answer["results"][0]["id"] == created["id"]
    moved = acme.get(f"/api/contacts/{created['id']}").json_body
    assert (moved["email"], moved["externalId"]) == ("after@example.com", "SF-1")
    assert [c["email"] for c in acme.get("/api/contacts?tag=t").json_body["data"]] == ["after@example.com"]
    emails = sorted(c["email"] for c in acme.get("/api/contacts").json_body["data"])
    assert emails == ["after@example.com", "new@example.com"]
    # The externalId pointer followed the move: matching again finds the moved contact.
    again = bulk(acme, [{"externalId": "SF-1", "firstName": "F"}], dedupeOn="externalId", returnResults=True)
    assert again["results"][0] == {"index": 0, "id": created["id"], "email": "after@example.com", "action": "updated"}


def test_dedupe_on_external_id_refuses_an_email_held_by_another_contact(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "one@example.com", "externalId": "SF-1"})
    acme.post("/api/contacts", {"email": "two@example.com"})
    rows = [
        {"externalId": "SF-1", "email": "two@example.com"},
        {"externalId": "SF-9", "email": "one@example.com"},
        {"email": "no-ext@example.com"},
        {"externalId": "SF-3"},
    ]
    before = stored_counts()
    answer = bulk(acme, rows, dedupeOn="externalId")
    assert [(e["index"], e["code"]) for e in answer["errors"]] == [
        (0, "conflict"),
        (1, "conflict"),
        (2, "validation_error"),
        (3, "validation_error"),
    ]
    assert stored_counts() == before


def test_an_external_id_held_by_another_contact_is_a_row_conflict(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "one@example.com", "externalId": "SF-1"})
    answer = bulk(acme, [{"email": "two@example.com", "externalId": "SF-1"}, {"email": "three@example.com"}])
    assert [(e["index"], e["code"]) for e in answer["errors"]] == [(0, "conflict")]
    assert answer["created"] == 1


def test_group_ids_are_joined_by_every_row(acme: Caller, relay: RelayPump) -> None:
    group = acme.post("/api/groups", {"name": "Newsletter"}).json_body
    acme.post("/api/contacts", {"email": "old@example.com"})
    bulk(acme, [{"email": "old@example.com"}, {"email": "new@example.com"}], groupIds=[group["id"]])
    members = acme.get(f"/api/contacts?group={group['id']}").json_body["data"]
    assert sorted(c["email"] for c in members) == ["new@example.com", "old@example.com"]
    assert all(c["groupIds"] == [group["id"]] for c in members)
    relay.pump()
    assert acme.get(f"/api/groups/{group['id']}").json_body["memberCount"] == 2


def test_unknown_or_foreign_group_ids_are_a_422_and_nothing_is_written(acme: Caller, globex: Caller) -> None:
    foreign = globex.post("/api/groups", {"name": "Theirs"}).json_body
    before = stored_counts()
    for group_id in (foreign["id"], "grp_nope"):
        response = acme.post("/api/contacts/bulk", {"contacts": [{"email": "a@example.com"}], "groupIds": [group_id]})
        assert response.status_code == 422
        assert response.json_body["error"]["code"] == "validation_error"
    assert stored_counts() == before


def test_dry_run_counts_and_writes_nothing(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "a@example.com"})
    before = stored_counts()
    answer = bulk(
        acme, [{"email": "a@example.com", "firstName": "A"}, {"email": "b@example.com"}, {"email": "x"}], dryRun=True
    )
    assert (answer["created"], answer["updated"], len(answer["errors"])) == (1, 1, 1)
    assert stored_counts() == before
    assert contact_by_email(acme, "a@example.com")["firstName"] is None


def test_more_than_10000_rows_is_a_413_before_anything_is_written(acme: Caller) -> None:
    before = stored_counts()
    rows = [{"email": f"u{i}@example.com"} for i in range(10_001)]
    response = acme.post("/api/contacts/bulk", {"contacts": rows})
    assert response.status_code == 413
    assert response.json_body["error"]["code"] == "payload_too_large"
    assert stored_counts() == before


def test_bad_bodies_are_clear_4xx_and_write_nothing(acme: Caller) -> None:
    before = stored_counts()
    cases: list[tuple[Any, int]] = [
        ("not json", 400),
        ({}, 422),
        ({"contacts": "nope"}, 422),
        ({"contacts": [], "onDuplicate": "merge"}, 422),
        ({"contacts": [], "dedupeOn": "phone"}, 422),
        ({"contacts": [], "eventKeyForNewContacts": "has space"}, 422),
        ({"contacts": [{"email": "a@example.com"}], "tags": [""]}, 422),
        ({"contacts": [{"email": "a@example.com"}], "extra": True}, 422),
    ]
    for body, status in cases:
        response = acme.post("/api/contacts/bulk", body)
        assert response.status_code == status, (body, response.body)
        assert "error" in response.json_body
    assert stored_counts() == before


def test_an_empty_batch_answers_zero_counts(acme: Caller) -> None:
    assert bulk(acme, []) == {
        "totalSubmitted": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "errors": [],
    }


def test_event_key_is_accepted(acme: Caller) -> None:
    answer = bulk(acme, [{"email": "a@example.com"}], eventKeyForNewContacts="newContact")
    assert answer["created"] == 1


def test_another_tenants_contacts_are_never_matched(acme: Caller, globex: Caller) -> None:
    theirs = globex.post(
        "/api/contacts", {"email": "shared@example.com", "externalId": "EXT-1", "firstName": "G"}
    ).json_body
    answer = bulk(acme, [{"email": "shared@example.com", "firstName": "A"}], returnResults=True)
    assert answer["results"][0]["action"] == "created"
    assert answer["results"][0]["id"] != theirs["id"]
    answer = bulk(
        acme, [{"externalId": "EXT-1", "email": "other@example.com"}], dedupeOn="externalId", returnResults=True
    )
    assert answer["results"][0]["action"] == "created"
    assert globex.get(f"/api/contacts/{theirs['id']}").json_body["firstName"] == "G"
    assert len(globex.get("/api/contacts").json_body["data"]) == 1


def test_idempotency_key_replays_the_first_answer(acme: Caller) -> None:
    body = {"contacts": [{"email": "a@example.com"}]}
    first = acme.post("/api/contacts/bulk", body, headers={"Idempotency-Key": "nightly-1"})
    again = acme.post("/api/contacts/bulk", body, headers={"Idempotency-Key": "nightly-1"})
    assert first.json_body == again.json_body
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_write_scope_is_required(client: Any, acme: Caller) -> None:
    key = acme.post("/api/keys", {"name": "ro", "scopes": ["contacts:read"]}).json_body["key"]
    reader = Caller(acme.client, acme.tenant_id, key)
    response = reader.post("/api/contacts/bulk", {"contacts": []})
    assert response.status_code == 403
