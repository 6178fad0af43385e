def test_contact_round_trip_over_http(acme):
    created = acme.post("/api/contacts", json={"email": "e2e@example.com"})
    assert created.status_code == 201, created.text
    fetched = acme.get(f"/api/contacts/{created.json()['id']}")
    assert fetched.json()["email"] == "e2e@example.com"
