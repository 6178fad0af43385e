"""PATCH /api/contacts/bulk/tags: union of ids and emails, counts of pairs that changed, memberships in step."""

from __future__ import annotations

from tests.functional.conftest import Caller
from tests.functional.dynamo import stored_counts


def tagged(caller: Caller, tag: str) -> list[str]:
    return sorted(c["email"] for c in caller.get(f"/api/contacts?tag={tag}&limit=100").json_body["data"])


def test_adds_and_removes_tags_counting_pairs_that_changed(acme: Caller, globex: Caller) -> None:
    a = acme.post("/api/contacts", {"email": "a@example.com", "tags": ["churn-risk"]}).json_body
    acme.post("/api/contacts", {"email": "b@example.com", "tags": ["vip"]})
    acme.post("/api/contacts", {"email": "c@example.com"})
    foreign = globex.post("/api/contacts", {"email": "d@example.com", "tags": ["churn-risk"]}).json_body
    body = {
        "contactIds": [a["id"], foreign["id"], "nope"],
        "emails": ["A@example.com", "b@example.com", "d@example.com", "zz@example.com"],
        "addTags": ["vip"],
        "removeTags": ["churn-risk"],
    }
    answer = acme.patch("/api/contacts/bulk/tags", body).json_body
    assert answer == {"matched": 2, "tagsAdded": 1, "tagsRemoved": 1, "unprocessedIds": []}
    assert tagged(acme, "vip") == ["a@example.com", "b@example.com"]
    assert tagged(acme, "churn-risk") == []
    assert globex.get(f"/api/contacts/{foreign['id']}").json_body["tags"] == ["churn-risk"]


def test_repeating_the_same_change_changes_nothing(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "a@example.com"})
    body = {"emails": ["a@example.com"], "addTags": ["x", "y"]}
    assert acme.patch("/api/contacts/bulk/tags", body).json_body["tagsAdded"] == 2
    assert acme.patch("/api/contacts/bulk/tags", body).json_body == {
        "matched": 1,
        "tagsAdded": 0,
        "tagsRemoved": 0,
        "unprocessedIds": [],
    }


def test_bad_bulk_tag_requests_are_4xx_and_write_nothing(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "a@example.com"})
    before = stored_counts()
    cases = [
        ({"emails": ["a@example.com"]}, 422),
        ({"emails": ["a@example.com"], "addTags": [], "removeTags": []}, 422),
        ({"emails": ["a@example.com"], "addTags": ["x"], "removeTags": ["x"]}, 422),
        ({"emails": ["a@example.com"], "addTags": [""]}, 422),
        ({"emails": [f"u{i}@example.com" for i in range(10_001)], "addTags": ["x"]}, 413),
        ({"contactIds": ["a"] * 5_001, "emails": ["b"] * 5_000, "addTags": ["x"]}, 413),
    ]
    for body, status in cases:
        response = acme.patch("/api/contacts/bulk/tags", body)
        assert response.status_code == status, body
        assert response.json_body["error"]["code"] in {"validation_error", "payload_too_large"}
    assert stored_counts() == before
