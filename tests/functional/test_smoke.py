def test_create_and_get(acme):
    r = acme.post("/api/contacts", {"email": " Alice@Example.com ", "firstName": "Alice", "tags": ["b", "a", "a"]})
    print(r.status_code, r.body)
    assert r.status_code == 201
    c = r.json_body
    r = acme.get(f"/api/contacts/{c['id']}")
    print(r.status_code, r.body)
    assert r.json_body["email"] == "alice@example.com"
    r = acme.patch(f"/api/contacts/{c['id']}", {"email": "alice2@example.com"})
    print(r.status_code, r.body)
    r = acme.get("/api/contacts?tag=a")
    print(r.status_code, r.body)
    r = acme.get("/api/nope")
    print(r.status_code, r.body)
    r = acme.request("PUT", "/api/contacts")
    print(r.status_code, r.body, r.headers)
