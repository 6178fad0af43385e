"""Two tenants never see or change each other's data: another tenant's id answers 404."""

from __future__ import annotations


def test_another_tenants_contact_is_not_found_on_every_route(acme, globex):
    theirs = globex.post("/api/contacts", {"email": "secret@globex.com", "tags": ["vip"]}).json_body
    path = f"/api/contacts/{theirs['id']}"
    assert acme.get(path).status_code == 404
    assert acme.patch(path, {"firstName": "Mallory"}).status_code == 404
    assert acme.delete(path).status_code == 404
    assert acme.delete(path + "?permanent=true").status_code == 404
    assert acme.post(path + "/restore").status_code == 404
    assert acme.post(path + "/tags", {"tags": ["owned"]}).status_code == 404
    assert acme.delete(path + "/tags", {"tags": ["vip"]}).status_code == 404
    # Nothing changed for its owner.
    assert globex.get(path).json_body == theirs


def test_the_same_email_lives_separately_in_each_tenant(acme, globex):
    mine = acme.post("/api/contacts", {"email": "shared@example.com", "firstName": "Mine"})
    theirs = globex.post("/api/contacts", {"email": "shared@example.com", "firstName": "Theirs"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json_body["id"] != theirs.json_body["id"]
    assert acme.get(f"/api/contacts/{theirs.json_body['id']}").status_code == 404
    assert [c["firstName"] for c in acme.get("/api/contacts").json_body["data"]] == ["Mine"]


def test_lists_search_and_tag_filters_stay_in_the_tenant(acme, globex, index_pump):
    globex.post("/api/contacts", {"email": "g1@globex.com", "company": "Acme Rival", "tags": ["vip"]})
    acme.post("/api/contacts", {"email": "a1@acme.com", "company": "Acme", "tags": ["vip"]})
    index_pump()
    assert [c["email"] for c in acme.get("/api/contacts").json_body["data"]] == ["a1@acme.com"]
    assert [c["email"] for c in acme.get("/api/contacts?tag=vip").json_body["data"]] == ["a1@acme.com"]
    assert [c["email"] for c in acme.get("/api/contacts?search=acme").json_body["data"]] == ["a1@acme.com"]
    found = acme.post("/api/contacts/search", {"query": "rival"}).json_body["data"]
    assert found == []
    theirs = globex.post("/api/contacts/search", {"query": "rival"}).json_body["data"]
    assert [c["email"] for c in theirs] == ["g1@globex.com"]
    for sort in ("createdAt", "updatedAt"):
        assert [c["email"] for c in acme.get(f"/api/contacts?sort={sort}").json_body["data"]] == ["a1@acme.com"]


def test_a_cursor_from_another_tenant_is_refused(acme, globex):
    for i in range(3):
        globex.post("/api/contacts", {"email": f"g{i}@globex.com"})
    their_cursor = globex.get("/api/contacts?limit=1").json_body["nextCursor"]
    assert their_cursor
    answer = acme.get(f"/api/contacts?limit=1&cursor={their_cursor}")
    assert answer.status_code == 400
    assert answer.json_body["error"]["code"] == "bad_request"


def test_a_key_of_one_tenant_cannot_revoke_another_tenants_key(acme, globex):
    their_keys = globex.get("/api/keys").json_body["data"]
    assert acme.delete(f"/api/keys/{their_keys[0]['id']}").status_code == 404
    assert globex.get("/api/contacts").status_code == 200
