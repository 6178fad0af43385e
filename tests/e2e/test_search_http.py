"""Search and sorting over real HTTP on the local stack: the parts that do not wait for the index.

Word searches and the createdAt/updatedAt orders read the search index, which the relay keeps
in the devstack; their HTTP tests come with it (docs/search.md, "Not done").
"""

from __future__ import annotations

import uuid

from tests.stack import HttpCaller


def test_a_whole_address_is_found_at_once_with_filters_and_case(acme: HttpCaller) -> None:
    email = f"Exact.{uuid.uuid4().hex[:8]}@Search.Example"
    created = acme.post("/api/contacts", json={"email": email, "status": "lead"})
    assert created.status_code == 201
    for body in ({"query": email}, {"query": email.upper(), "filters": {"status": "lead"}}):
        found = acme.post("/api/contacts/search", json=body).json()["data"]
        assert [c["id"] for c in found] == [created.json()["id"]]
    assert acme.post("/api/contacts/search", json={"query": email, "filters": {"status": "x"}}).json()["data"] == []
    listed = acme.get("/api/contacts", params={"search": email.lower()}).json()["data"]
    assert [c["email"] for c in listed] == [email.lower()]


def test_email_order_both_ways_walks_every_contact_once(acme: HttpCaller) -> None:
    tag = "order-" + uuid.uuid4().hex[:6]
    made = sorted(f"o{i}-{uuid.uuid4().hex[:6]}@order.example" for i in range(7))
    for email in made:
        assert acme.post("/api/contacts", json={"email": email, "tags": [tag]}).status_code == 201
    for order, expected in (("asc", made), ("desc", made[::-1])):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"tag": tag, "limit": 3, "sort": "email", "order": order, **({"cursor": cursor} if cursor else {})}
            page = acme.get("/api/contacts", params=params).json()
            seen += [c["email"] for c in page["data"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert seen == expected


def test_bad_sort_is_a_422_in_the_envelope(acme: HttpCaller) -> None:
    answer = acme.get("/api/contacts", params={"sort": "company"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["field"] == "sort"
    answer = acme.post("/api/contacts/search", json={"sort": {"field": "createdAt", "order": "sideways"}})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["field"] == "sort.order"
