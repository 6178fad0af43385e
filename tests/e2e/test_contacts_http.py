"""Every foundation route through real HTTP on the local stack, for two tenants that never meet."""

from __future__ import annotations

import uuid

import requests

from tests.stack import HttpCaller, Stack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def test_health_answers_without_a_key(stack: Stack):
    answer = requests.get(stack.api + "/api/health", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_demo_tenant_printed_by_the_stack_works(stack: Stack):
    demo = HttpCaller(stack.api, stack.api_key)
    assert demo.get("/api/contacts").status_code == 200


def test_contact_lifecycle(acme: HttpCaller):
    email = unique("life")
    created = acme.post("/api/contacts", json={"email": email.upper(), "firstName": "Lif", "tags": ["b", "a"]})
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["email"] == email and contact["tags"] == ["a", "b"]
    path = f"/api/contacts/{contact['id']}"
    assert acme.get(path).json() == contact

    new_email = unique("moved")
    patched = acme.patch(path, json={"email": new_email, "company": "Acme", "firstName": None})
    assert patched.status_code == 200
    assert patched.json()["id"] == contact["id"]
    assert patched.json()["email"] == new_email and patched.json()["firstName"] is None
    assert acme.get(path).json()["email"] == new_email

    assert acme.post(path + "/tags", json={"tags": ["c"]}).json()["tags"] == ["a", "b", "c"]
    assert acme.delete(path + "/tags", json={"tags": ["a"]}).json()["tags"] == ["b", "c"]

    assert acme.delete(path).json() == {"id": contact["id"], "deleted": True}
    assert acme.get(path).json()["deletedAt"] is not None
    assert acme.post(path + "/restore").json()["deletedAt"] is None
    erased = acme.delete(path + "?permanent=true")
    assert erased.json() == {"id": contact["id"], "deleted": True, "permanent": True}
    assert acme.get(path).status_code == 404


def test_conflicts_and_validation_over_http(acme: HttpCaller):
    email = unique("dup")
    assert acme.post("/api/contacts", json={"email": email}).status_code == 201
    dup = acme.post("/api/contacts", json={"email": email})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
    bad = acme.post("/api/contacts", json={"email": "nope", "phone": "1" * 40})
    assert bad.status_code == 422
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"email", "phone"}


def test_two_tenants_never_see_each_other(acme: HttpCaller, globex: HttpCaller):
    email = unique("both")
    mine = acme.post("/api/contacts", json={"email": email, "tags": ["iso"]}).json()
    theirs = globex.post("/api/contacts", json={"email": email, "tags": ["iso"]}).json()
    assert mine["id"] != theirs["id"]
    for caller, other in ((acme, theirs), (globex, mine)):
        path = f"/api/contacts/{other['id']}"
        assert caller.get(path).status_code == 404
        assert caller.patch(path, json={"company": "x"}).status_code == 404
        assert caller.delete(path).status_code == 404
        listed = caller.get("/api/contacts", params={"tag": "iso", "limit": 100}).json()["data"]
        assert other["id"] not in {c["id"] for c in listed}
        found = caller.post("/api/contacts/search", json={"query": email}).json()["data"]
        assert [c["id"] for c in found] != [other["id"]] and len(found) == 1
    cursor = globex.get("/api/contacts", params={"limit": 1}).json()["nextCursor"]
    if cursor:
        assert acme.get("/api/contacts", params={"cursor": cursor}).status_code == 400


def test_paging_over_http_loses_and_repeats_nothing(globex: HttpCaller):
    tag = "page-" + uuid.uuid4().hex[:6]
    made = {globex.post("/api/contacts", json={"email": unique("p"), "tags": [tag]}).json()["id"] for _ in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"tag": tag, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = globex.get("/api/contacts", params=params).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == made


def test_keys_scopes_and_revocation_over_http(stack: Stack, acme: HttpCaller):
    created = acme.post("/api/keys", json={"name": "reader", "scopes": ["contacts:read"]})
    assert created.status_code == 201
    reader = HttpCaller(stack.api, created.json()["key"])
    assert reader.get("/api/contacts").status_code == 200
    assert reader.post("/api/contacts", json={"email": unique("r")}).status_code == 403
    bearer = requests.get(
        stack.api + "/api/contacts", headers={"Authorization": f"Bearer {created.json()['key']}"}, timeout=5
    )
    assert bearer.status_code == 200
    assert acme.delete(f"/api/keys/{created.json()['id']}").status_code == 200
    assert reader.get("/api/contacts").status_code == 401


def test_idempotent_replay_over_http(acme: HttpCaller):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"email": unique("idem")}
    first = acme.post("/api/contacts", json=body, headers=key)
    again = acme.post("/api/contacts", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = acme.post("/api/contacts", json={"email": unique("idem")}, headers=key)
    assert other.status_code == 409


def test_gateway_style_errors_use_the_envelope(stack: Stack, acme: HttpCaller):
    unknown = acme.get("/api/does-not-exist")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    unauthenticated = requests.get(stack.api + "/api/contacts", timeout=5)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "unauthorized"
    garbled = acme.post("/api/contacts", data=b'{"email":', headers={"Content-Type": "application/json"})
    assert garbled.status_code == 400 and garbled.json()["error"]["code"] == "bad_request"
    wrong_type = acme.post("/api/contacts", data=b'{"email": "a@b.co"}', headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 400
    method = acme.request("PUT", "/api/contacts", json={})
    assert method.status_code == 405 and method.json()["error"]["code"] == "method_not_allowed"


def test_concurrent_tag_additions_are_all_kept(acme: HttpCaller):
    """Racing writers on one contact: each write is conditioned on the version it read and retried."""
    from concurrent.futures import ThreadPoolExecutor

    contact = acme.post("/api/contacts", json={"email": unique("race")}).json()
    path = f"/api/contacts/{contact['id']}/tags"
    tags = [f"t{i}" for i in range(8)]

    def add(tag: str) -> int:
        caller = HttpCaller(acme.base, acme.session.headers["X-Api-Key"])
        return caller.post(path, json={"tags": [tag]}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(add, tags))
    assert statuses == [200] * len(tags)
    assert acme.get(f"/api/contacts/{contact['id']}").json()["tags"] == sorted(tags)
