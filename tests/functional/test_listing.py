"""Listing, filters, search and cursor paging."""

from __future__ import annotations

import base64
import json

import pytest


@pytest.fixture
def people(acme, index_pump):
    rows = [
        {"email": "ann@acme.com", "firstName": "Ann", "company": "Acme", "status": "lead", "tags": ["vip", "eu"]},
        {"email": "ben@globex.com", "lastName": "Acmeson", "status": "customer", "tags": ["vip"]},
        {"email": "cid@initech.com", "company": "Initech", "status": "lead", "subscription": "confirmed"},
        {"email": "dee@acme.com", "company": "ACME Corp", "status": "customer", "tags": ["eu"]},
        {
            "email": "eve@umbrella.com",
            "company": "Umbrella",
            "customFields": {"sector": "Fintech"},
            "tags": ["vip", "eu"],
        },
    ]
    for row in rows:
        assert acme.post("/api/contacts", row).status_code == 201
    index_pump()
    return acme


def emails(answer):
    return [c["email"] for c in answer.json_body["data"]]


def test_list_is_ordered_by_email_with_default_page(people):
    answer = people.get("/api/contacts")
    assert answer.status_code == 200
    assert emails(answer) == ["ann@acme.com", "ben@globex.com", "cid@initech.com", "dee@acme.com", "eve@umbrella.com"]
    assert answer.json_body["nextCursor"] is None


def test_filters_status_tag_subscription_and_search(people):
    assert emails(people.get("/api/contacts?status=lead")) == ["ann@acme.com", "cid@initech.com"]
    assert emails(people.get("/api/contacts?tag=vip")) == ["ann@acme.com", "ben@globex.com", "eve@umbrella.com"]
    assert emails(people.get("/api/contacts?subscription=confirmed")) == ["cid@initech.com"]
    # Case-insensitive substring of email, firstName, lastName or company.
    assert emails(people.get("/api/contacts?search=ACME")) == ["ann@acme.com", "ben@globex.com", "dee@acme.com"]
    assert emails(people.get("/api/contacts?tag=eu&status=customer")) == ["dee@acme.com"]


def test_search_body_combines_query_and_filters(people):
    answer = people.post(
        "/api/contacts/search",
        {"query": "acme", "filters": {"tags": ["vip", "eu"]}, "limit": 10},
    )
    assert answer.status_code == 200
    assert emails(answer) == ["ann@acme.com"]
    by_field = people.post("/api/contacts/search", {"filters": {"customFields": {"sector": "Fintech"}}})
    assert emails(by_field) == ["eve@umbrella.com"]
    assert emails(people.post("/api/contacts/search", {})) == emails(people.get("/api/contacts"))


@pytest.mark.parametrize("query", ["", "?tag=vip", "?search=a", "?status=lead"])
def test_paging_walks_every_match_once(people, query):
    everything = emails(people.get("/api/contacts" + query))
    seen = []
    cursor = None
    for _ in range(10):
        sep = "&" if query else "?"
        path = "/api/contacts" + query + f"{sep}limit=2" + (f"&cursor={cursor}" if cursor else "")
        answer = people.get(path)
        assert answer.status_code == 200
        seen += emails(answer)
        cursor = answer.json_body["nextCursor"]
        if cursor is None:
            break
    assert seen == everything


def test_search_paging_with_cursor_in_the_body(people):
    first = people.post("/api/contacts/search", {"query": "acme", "limit": 2}).json_body
    assert len(first["data"]) == 2 and first["nextCursor"]
    second = people.post("/api/contacts/search", {"query": "acme", "limit": 2, "cursor": first["nextCursor"]})
    assert [c["email"] for c in second.json_body["data"]] == ["dee@acme.com"]
    assert second.json_body["nextCursor"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(json.dumps({"t": "tnt_other", "l": "all", "a": "x@y.z"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["a"]).encode()).decode(),
    ],
)
def test_garbled_or_forged_cursor_is_a_400(people, cursor):
    answer = people.get(f"/api/contacts?cursor={cursor}")
    assert answer.status_code == 400
    assert answer.json_body["error"]["code"] == "bad_request"


def test_a_cursor_of_another_listing_is_refused(people):
    cursor = people.get("/api/contacts?limit=1").json_body["nextCursor"]
    assert people.get(f"/api/contacts?tag=vip&cursor={cursor}").status_code == 400


@pytest.mark.parametrize("limit", ["0", "101", "abc"])
def test_limit_outside_1_to_100_is_a_422(people, limit):
    answer = people.get(f"/api/contacts?limit={limit}")
    assert answer.status_code == 422
    assert answer.json_body["error"]["details"][0]["field"] == "limit"


def test_bad_subscription_filter_is_a_422(people):
    assert people.get("/api/contacts?subscription=maybe").status_code == 422
    assert people.post("/api/contacts/search", {"limit": 0}).status_code == 422
