"""Issue 12 part B over real HTTP on the local stack: PUT, the changes feed and totals (the stream runs behind)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.test_activity_rotation_http import eventually
from tests.stack import HttpCaller, Stack, create_tenant

pytestmark = pytest.mark.e2e


def new_tenant(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, f"T-{uuid.uuid4().hex[:6]}")["apiKey"])


def test_put_updates_only_existing_contacts(acme: HttpCaller) -> None:
    email = f"put-{uuid.uuid4().hex[:8]}@example.com"
    created = acme.post("/api/contacts", json={"email": email, "firstName": "Ann", "company": "Acme"}).json()
    path = f"/api/contacts/{created['id']}"
    put = acme.request("PUT", path, json={"company": None, "status": "customer"})
    assert put.status_code == 200, put.text
    assert (put.json()["firstName"], put.json()["company"], put.json()["status"]) == ("Ann", None, "customer")
    missing = acme.request("PUT", f"/api/contacts/{uuid.uuid4()}", json={"firstName": "x"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    other = acme.post("/api/contacts", json={"email": f"taken-{uuid.uuid4().hex[:8]}@example.com"}).json()
    taken = acme.request("PUT", path, json={"email": other["email"]})
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "conflict")
    bad = acme.request("PUT", path, json={"email": "nope", "phone": "1" * 40})
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["error"]["details"]} == {"email", "phone"}
    assert acme.get(path).json() == put.json()


def drain(caller: HttpCaller, cursor: str | None) -> tuple[list[dict[str, Any]], str]:
    seen: list[dict[str, Any]] = []
    while True:
        answer = caller.get("/api/contacts/changes?limit=100" + (f"&since={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        cursor = page["nextCursor"]
        assert cursor
        if not page["data"]:
            return seen, cursor
        seen.extend(page["data"])


def test_the_changes_feed_lets_a_client_rebuild_its_copy(stack: Stack) -> None:
    tenant = new_tenant(stack)
    first = tenant.get("/api/contacts/changes")  # a static path next to /api/contacts/{contact_id}
    assert first.status_code == 200 and first.json()["data"] == []
    cursor = first.json()["nextCursor"]

    ann = tenant.post("/api/contacts", json={"email": "ann@example.com", "externalId": "SF-1"}).json()
    bob = tenant.post("/api/contacts", json={"email": "bob@example.com"}).json()
    tenant.patch(f"/api/contacts/{ann['id']}", json={"email": "anna@example.com"})
    tenant.delete(f"/api/contacts/{bob['id']}")
    rows = [{"email": f"bulk{i}@example.com"} for i in range(30)]
    tenant.post("/api/contacts/bulk", json={"contacts": rows})
    tenant.delete(f"/api/contacts/{ann['id']}?permanent=true")

    copy: dict[str, Any] = {}
    erased: set[str] = set()

    def sync() -> int:
        nonlocal cursor
        seen, cursor = drain(tenant, cursor)
        for entry in seen:
            if entry["change"] == "erased":
                copy.pop(entry["id"], None)
                erased.add(entry["id"])
            else:
                copy[entry["id"]] = entry["contact"]
        return len(copy)

    eventually(sync, lambda size: size == 31 and ann["id"] in erased)
    assert erased == {ann["id"]}
    assert copy[bob["id"]]["deletedAt"] is not None
    listed = {c["id"]: c for c in tenant.get("/api/contacts?limit=100").json()["data"]}
    assert {k: v for k, v in copy.items() if k != bob["id"]} == listed


def test_feed_cursors_are_bound_to_their_tenant(stack: Stack) -> None:
    one, two = new_tenant(stack), new_tenant(stack)
    cursor = one.get("/api/contacts/changes").json()["nextCursor"]
    foreign = two.get(f"/api/contacts/changes?since={cursor}")
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (400, "bad_request")
    garbled = one.get("/api/contacts/changes?since=garbled!")
    assert garbled.status_code == 400
    old = one.get("/api/contacts/changes?updatedSince=2020-01-01T00:00:00Z")
    assert (old.status_code, old.json()["error"]["code"]) == (410, "cursor_expired")


def test_totals_and_member_count_follow_the_stream(stack: Stack) -> None:
    tenant = new_tenant(stack)
    group = tenant.post("/api/groups", json={"name": "Newsletter"}).json()
    rows = [{"email": f"c{i}@example.com", "status": "lead" if i % 2 else "customer"} for i in range(40)]
    tenant.post("/api/contacts/bulk", json={"contacts": rows, "tags": ["vip"], "groupIds": [group["id"]]})
    some = tenant.get("/api/contacts?limit=5").json()["data"]
    for contact in some:
        tenant.delete(f"/api/contacts/{contact['id']}")

    def totals() -> tuple[Any, ...]:
        listing = tenant.get("/api/contacts?limit=1&includeTotal=true").json()["total"]
        lead = tenant.get("/api/contacts?limit=1&includeTotal=true&status=lead").json()["total"]
        search = tenant.post("/api/contacts/search", json={"includeTotal": True, "filters": {"tags": ["vip"]}}).json()
        members = tenant.get(f"/api/groups/{group['id']}").json()["memberCount"]
        return listing, lead, search["total"], members

    lead_left = 20 - sum(1 for c in some if c["status"] == "lead")
    assert eventually(totals, lambda t: t == (35, lead_left, 35, 35)) == (35, lead_left, 35, 35)
    text = tenant.get("/api/contacts?limit=1&includeTotal=true&search=c1").json()
    assert text["total"] is None
