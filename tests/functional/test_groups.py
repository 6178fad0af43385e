"""Groups: CRUD, member counts, attach/detach, per-contact groups, listing by group, tenant isolation."""

from __future__ import annotations

import re
from typing import Any

import boto3

from chalicelib.repository import groups as groups_repo
from chalicelib.settings import settings
from tests.functional.conftest import Caller
from tests.functional.dynamo import stored_counts
from tests.functional.stream import RelayPump


def new_group(caller: Caller, name: str = "Newsletter", **fields: Any) -> dict[str, Any]:
    response = caller.post("/api/groups", {"name": name, **fields})
    assert response.status_code == 201, response.body
    group: dict[str, Any] = response.json_body
    return group


def new_contacts(caller: Caller, n: int, **fields: Any) -> list[dict[str, Any]]:
    return [caller.post("/api/contacts", {"email": f"c{i}@example.com", **fields}).json_body for i in range(n)]


def members(caller: Caller, group_id: str) -> list[str]:
    return sorted(c["email"] for c in caller.get(f"/api/contacts?group={group_id}&limit=100").json_body["data"])


def test_create_get_list_patch_delete(acme: Caller, relay: RelayPump) -> None:
    group = new_group(acme, "Newsletter", doubleOptIn=True, confirmRedirectUrl="https://acme.test/thanks")
    assert re.fullmatch(r"grp_[A-Za-z0-9_-]{43}", group["id"])
    assert (group["name"], group["doubleOptIn"], group["confirmRedirectUrl"]) == (
        "Newsletter",
        True,
        "https://acme.test/thanks",
    )
    relay.pump()
    fetched = acme.get(f"/api/groups/{group['id']}").json_body
    assert fetched == {**group, "memberCount": 0}
    patched = acme.patch(f"/api/groups/{group['id']}", {"name": "Weekly", "confirmRedirectUrl": None}).json_body
    assert (patched["name"], patched["doubleOptIn"], patched["confirmRedirectUrl"]) == ("Weekly", True, None)
    assert acme.get("/api/groups").json_body == {"data": [patched], "nextCursor": None}
    assert acme.delete(f"/api/groups/{group['id']}").json_body == {"id": group["id"], "deleted": True}
    assert acme.get(f"/api/groups/{group['id']}").status_code == 404
    assert groups_repo.find_by_public_id(group["id"]) is None


def test_the_public_lookup_resolves_a_group_id_to_its_tenant(acme: Caller) -> None:
    group = new_group(acme)
    tenant_id, item = groups_repo.find_by_public_id(group["id"]) or ("", None)
    assert tenant_id == acme.tenant_id
    assert item is not None and item.name == "Newsletter"


def test_groups_list_is_paginated(acme: Caller) -> None:
    created = {new_group(acme, f"G{i}")["id"] for i in range(5)}
    seen = [g["id"] for g in acme.walk_pages("/api/groups?limit=2")]
    assert sorted(seen) == sorted(created)
    assert acme.get("/api/groups?cursor=garbage").status_code == 400


def test_invalid_group_bodies_are_422(acme: Caller) -> None:
    for body in (
        {},
        {"name": ""},
        {"name": "x" * 256},
        {"name": "G", "confirmRedirectUrl": "javascript:x"},
        {"name": "G", "x": 1},
    ):
        response = acme.post("/api/groups", body)
        assert response.status_code == 422, body
    group = new_group(acme)
    assert acme.patch(f"/api/groups/{group['id']}", {"name": None}).status_code == 422


def test_another_tenants_group_is_404_everywhere(acme: Caller, globex: Caller) -> None:
    theirs = new_group(globex, "Theirs")
    contact = acme.post("/api/contacts", {"email": "a@example.com"}).json_body
    gid = theirs["id"]
    assert acme.get(f"/api/groups/{gid}").status_code == 404
    assert acme.patch(f"/api/groups/{gid}", {"name": "Mine"}).status_code == 404
    assert acme.delete(f"/api/groups/{gid}").status_code == 404
    assert acme.post(f"/api/groups/{gid}/contacts/attach", {"emails": ["a@example.com"]}).status_code == 404
    assert acme.post(f"/api/groups/{gid}/contacts/detach").status_code == 404
    assert acme.post(f"/api/contacts/{contact['id']}/groups", {"groupIds": [gid]}).status_code == 422
    assert acme.post("/api/contacts", {"email": "b@example.com", "groupIds": [gid]}).status_code == 422
    assert globex.get(f"/api/groups/{gid}").json_body["name"] == "Theirs"
    assert acme.get("/api/groups").json_body["data"] == []


def test_attach_by_ids_and_emails_counts_each_case(acme: Caller, globex: Caller, relay: RelayPump) -> None:
    group = new_group(acme)
    contacts = new_contacts(acme, 4)
    foreign = globex.post("/api/contacts", {"email": "theirs@example.com"}).json_body
    body = {
        "contactIds": [contacts[0]["id"], contacts[1]["id"], foreign["id"]],
        "emails": ["C2@example.com", "nobody@example.com"],
    }
    answer = acme.post(f"/api/groups/{group['id']}/contacts/attach", body).json_body
    assert answer == {"attached": 3, "alreadyMember": 0, "notFound": 2, "unprocessedIds": []}
    again = acme.post(f"/api/groups/{group['id']}/contacts/attach", {"emails": ["c0@example.com", "c3@example.com"]})
    assert again.json_body == {"attached": 1, "alreadyMember": 1, "notFound": 0, "unprocessedIds": []}
    assert members(acme, group["id"]) == [f"c{i}@example.com" for i in range(4)]
    relay.pump()
    assert acme.get(f"/api/groups/{group['id']}").json_body["memberCount"] == 4
    assert acme.get(f"/api/contacts/{contacts[0]['id']}").json_body["groupIds"] == [group["id"]]
    assert globex.get(f"/api/contacts/{foreign['id']}").json_body["groupIds"] == []


def test_attach_and_detach_limits(acme: Caller) -> None:
    group = new_group(acme)
    before = stored_counts()
    too_many = {"emails": [f"u{i}@example.com" for i in range(501)]}
    for action in ("attach", "detach"):
        response = acme.post(f"/api/groups/{group['id']}/contacts/{action}", too_many)
        assert response.status_code == 413
        assert response.json_body["error"]["code"] == "payload_too_large"
    assert acme.post(f"/api/groups/{group['id']}/contacts/attach", {}).status_code == 422
    assert acme.post(f"/api/groups/{group['id']}/contacts/attach", {"emails": "x"}).status_code == 422
    assert stored_counts() == before


def test_detach_named_contacts_then_detach_all_with_an_empty_body(acme: Caller, relay: RelayPump) -> None:
    group = new_group(acme)
    new_contacts(acme, 5)
    emails = [f"c{i}@example.com" for i in range(5)]
    acme.post(f"/api/groups/{group['id']}/contacts/attach", {"emails": emails})
    answer = acme.post(f"/api/groups/{group['id']}/contacts/detach", {"emails": ["c0@example.com", "zz@example.com"]})
    assert answer.json_body == {"detached": 1, "unprocessedIds": []}
    assert members(acme, group["id"]) == emails[1:]
    assert acme.post(f"/api/groups/{group['id']}/contacts/detach", {"contactIds": []}).json_body["detached"] == 0
    everyone = acme.post(f"/api/groups/{group['id']}/contacts/detach")
    assert everyone.json_body == {"detached": 4, "unprocessedIds": []}
    assert members(acme, group["id"]) == []
    relay.pump()
    assert acme.get(f"/api/groups/{group['id']}").json_body["memberCount"] == 0
    assert all(c["groupIds"] == [] for c in acme.get("/api/contacts").json_body["data"])


def test_deleting_a_group_removes_its_memberships_and_its_id_from_contacts(acme: Caller) -> None:
    group, other = new_group(acme, "A"), new_group(acme, "B")
    new_contacts(acme, 3, groupIds=[group["id"], other["id"]])
    assert acme.delete(f"/api/groups/{group['id']}").status_code == 200
    assert all(c["groupIds"] == [other["id"]] for c in acme.get("/api/contacts").json_body["data"])
    pk = f"{acme.tenant_id}#group#{group['id']}"
    left = boto3.client("dynamodb").query(
        TableName=settings.memberships_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    assert left["Count"] == 0
    assert members(acme, other["id"]) == [f"c{i}@example.com" for i in range(3)]


def test_contact_group_routes_and_group_ids_on_create(acme: Caller) -> None:
    a, b = new_group(acme, "A"), new_group(acme, "B")
    contact = acme.post("/api/contacts", {"email": "x@example.com", "groupIds": [a["id"]]}).json_body
    assert contact["groupIds"] == [a["id"]]
    added = acme.post(f"/api/contacts/{contact['id']}/groups", {"groupIds": [b["id"]]}).json_body
    assert added["groupIds"] == sorted([a["id"], b["id"]])
    assert members(acme, b["id"]) == ["x@example.com"]
    removed = acme.delete(f"/api/contacts/{contact['id']}/groups", {"groupIds": [a["id"]]}).json_body
    assert removed["groupIds"] == [b["id"]]
    assert members(acme, a["id"]) == []
    assert acme.post(f"/api/contacts/{contact['id']}/groups", {"groupIds": ["grp_unknown"]}).status_code == 422
    assert acme.post(f"/api/contacts/{contact['id']}/groups", {"groupIds": []}).status_code == 422
    assert acme.post("/api/contacts/nope/groups", {"groupIds": [a["id"]]}).status_code == 404


def test_search_filters_by_group_ids(acme: Caller) -> None:
    a, b = new_group(acme, "A"), new_group(acme, "B")
    acme.post("/api/contacts", {"email": "both@example.com", "groupIds": [a["id"], b["id"]]})
    acme.post("/api/contacts", {"email": "one@example.com", "groupIds": [a["id"]]})
    found = acme.post("/api/contacts/search", {"filters": {"groupIds": [a["id"], b["id"]]}}).json_body["data"]
    assert [c["email"] for c in found] == ["both@example.com"]
