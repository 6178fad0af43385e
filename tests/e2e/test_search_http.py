"""Search and sorting over real HTTP on the local stack.

A whole-address search and email order read the contacts table and are tested at once. Word
searches and the createdAt/updatedAt orders read the search index, which the devstack's relay
keeps (relay.CONSUMERS): those tests poll with a deadline until the write shows, then assert.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from tests.stack import HttpCaller

T = TypeVar("T")


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


def _eventually(read: Callable[[], T], ready: Callable[[T], bool], timeout: float = 30.0) -> T:
    """Poll until the index has caught up (the relay follows the stream); the caller asserts on the result.

    The deadline bounds the wait only: the contract says "within seconds", and a loaded machine
    must not turn that into a flaky failure, so no latency is asserted here (that is the benchmark's job).
    """
    deadline = time.monotonic() + timeout
    value = read()
    while not ready(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value


def _search(caller: HttpCaller, query: str, **extra: Any) -> list[dict[str, Any]]:
    answer = caller.post("/api/contacts/search", json={"query": query, **extra})
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def _walk(caller: HttpCaller, params: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = caller.get("/api/contacts", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += [c["id"] for c in page.json()["data"]]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            return seen


def test_a_write_becomes_searchable_by_word_and_follows_renames_and_archiving(
    acme: HttpCaller, globex: HttpCaller
) -> None:
    word = "zq" + uuid.uuid4().hex[:8]
    created = acme.post(
        "/api/contacts",
        json={
            "email": f"{word}.person@words.example",
            "firstName": "Zoë",
            "lastName": word.title(),
            "company": "Acme Corp",
        },
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]

    found = _eventually(lambda: _search(acme, word[:6]), lambda data: bool(data))
    assert [c["id"] for c in found] == [contact_id]
    # Every form the contract names finds it: prefixes of any field, case and accents ignored,
    # several terms (all must match), the domain as a whole email word; the GET route agrees.
    for query in (
        word.upper(),
        f"zoe {word[:4]}",
        f"ZOË {word}",
        "acme co " + word,
        f"{word}.person@wor",
        "words.example " + word,
    ):
        assert [c["id"] for c in _search(acme, query)] == [contact_id], query
    listed = acme.get("/api/contacts", params={"search": word[:5]}).json()["data"]
    assert [c["id"] for c in listed] == [contact_id]
    # A prefix, not a substring; every term must match; another tenant never sees it.
    assert _search(acme, word[2:]) == []
    assert _search(acme, f"{word} nobodyelse") == []
    assert _search(acme, f"{word}.person@words.org") == []
    assert _search(globex, word) == []

    renamed = "zr" + uuid.uuid4().hex[:8]
    assert acme.patch(f"/api/contacts/{contact_id}", json={"lastName": renamed}).status_code == 200
    by_new = _eventually(lambda: _search(acme, renamed), lambda data: bool(data))
    assert [c["id"] for c in by_new] == [contact_id]
    assert by_new[0]["lastName"] == renamed
    # The old surname is still a word of the email address, so it still finds the contact.
    assert [c["id"] for c in _search(acme, word)] == [contact_id]

    assert acme.delete(f"/api/contacts/{contact_id}").status_code == 200
    assert _eventually(lambda: _search(acme, renamed), lambda data: not data) == []


def _created_in_order(caller: HttpCaller, tag: str, count: int) -> list[dict[str, Any]]:
    made = []
    for i in range(count):
        answer = caller.post(
            "/api/contacts", json={"email": f"t{count - i}-{uuid.uuid4().hex[:6]}@time.example", "tags": [tag]}
        )
        assert answer.status_code == 201
        made.append(answer.json())
    return made


def test_created_at_order_both_ways_through_http_once_the_index_has_the_writes(acme: HttpCaller) -> None:
    tag = "time-" + uuid.uuid4().hex[:6]
    made = _created_in_order(acme, tag, 5)
    # Emails are made to sort against creation order, so an email-ordered answer cannot pass.
    expected = [c["id"] for c in sorted(made, key=lambda c: (c["createdAt"], c["email"]))]
    asc = {"tag": tag, "limit": 2, "sort": "createdAt", "order": "asc"}
    assert _eventually(lambda: _walk(acme, asc), lambda seen: len(seen) == len(expected)) == expected
    assert _walk(acme, {**asc, "order": "desc"}) == expected[::-1]
    body = {"query": "time.example", "filters": {"tags": [tag]}, "sort": {"field": "createdAt", "order": "desc"}}
    searched = [c["id"] for c in acme.post("/api/contacts/search", json=body).json()["data"]]
    assert searched == expected[::-1]


def test_updated_at_order_moves_a_changed_contact_through_http(acme: HttpCaller) -> None:
    tag = "upd-" + uuid.uuid4().hex[:6]
    made = _created_in_order(acme, tag, 4)
    desc = {"tag": tag, "limit": 3, "sort": "updatedAt", "order": "desc"}
    before = [c["id"] for c in sorted(made, key=lambda c: (c["updatedAt"], c["email"]), reverse=True)]
    assert _eventually(lambda: _walk(acme, desc), lambda seen: len(seen) == len(before)) == before

    oldest = before[-1]
    changed = acme.patch(f"/api/contacts/{oldest}", json={"company": "Moved Up"})
    assert changed.status_code == 200
    after = [oldest, *before[:-1]]
    assert _eventually(lambda: _walk(acme, desc), lambda seen: seen == after) == after
    assert _walk(acme, {**desc, "order": "asc"}) == after[::-1]
