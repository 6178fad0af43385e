"""Concurrent clients over real HTTP against the local stack (threads, simultaneous requests):
answers' counts are true, and whatever an answer reports as done is there afterwards."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.stack import HttpCaller, Stack, create_tenant


def simultaneously(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call at once: each thread waits at a barrier, then sends."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def fresh_tenant(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, f"Race-{uuid.uuid4().hex[:6]}")["apiKey"])


def listing(caller: HttpCaller, query: str) -> list[str]:
    emails: list[str] = []
    cursor = None
    while True:
        page = caller.get(f"/api/contacts?limit=100&{query}" + (f"&cursor={cursor}" if cursor else "")).json()
        emails += [c["email"] for c in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return emails


def test_one_contact_attached_to_six_groups_at_once_is_in_all_six(stack: Stack) -> None:
    caller = fresh_tenant(stack)
    contact = caller.post("/api/contacts", json={"email": "six@example.com"}).json()
    groups = [caller.post("/api/groups", json={"name": f"G{i}"}).json()["id"] for i in range(6)]
    answers = simultaneously(
        [
            lambda g=g: caller.post(
                f"/api/groups/{g}/contacts/attach", json={"contactIds": [contact["id"]]}, timeout=60
            )
            for g in groups
        ]
    )
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert [a.json()["attached"] for a in answers] == [1] * 6
    assert caller.get(f"/api/contacts/{contact['id']}").json()["groupIds"] == sorted(groups)
    for group in groups:
        assert listing(caller, f"group={group}") == ["six@example.com"]
        assert caller.get(f"/api/groups/{group}").json()["memberCount"] == 1


def test_ten_attaches_of_one_email_to_one_group_attach_it_once(stack: Stack) -> None:
    caller = fresh_tenant(stack)
    caller.post("/api/contacts", json={"email": "ten@example.com"})
    group = caller.post("/api/groups", json={"name": "Ten"}).json()["id"]
    answers = simultaneously(
        [
            lambda: caller.post(
                f"/api/groups/{group}/contacts/attach", json={"emails": ["ten@example.com"]}, timeout=60
            )
            for _ in range(10)
        ]
    )
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    counts = sorted((a.json()["attached"], a.json()["alreadyMember"]) for a in answers)
    assert counts == [(0, 1)] * 9 + [(1, 0)]
    assert listing(caller, f"group={group}") == ["ten@example.com"]
    assert caller.get(f"/api/groups/{group}").json()["memberCount"] == 1


def test_eight_bulk_requests_creating_one_new_email_create_it_once(stack: Stack) -> None:
    caller = fresh_tenant(stack)

    def bulk(i: int) -> requests.Response:
        row = {"email": "eight@example.com", "customFields": {f"from{i}": i}}
        return caller.post("/api/contacts/bulk", json={"contacts": [row], "returnResults": True}, timeout=120)

    answers = simultaneously([lambda i=i: bulk(i) for i in range(8)])
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    results: list[dict[str, Any]] = [a.json()["results"][0] for a in answers]
    assert sorted(r["action"] for r in results).count("created") == 1, results
    assert all(r["action"] in ("created", "updated", "unchanged") for r in results), results
    ids = {r["id"] for r in results}
    assert len(ids) == 1, results
    stored = caller.get(f"/api/contacts/{ids.pop()}")
    assert stored.status_code == 200
    # Every request reported its row applied; none of the fields it sent vanished.
    assert stored.json()["customFields"] == {f"from{i}": i for i in range(8)}
    assert listing(caller, "search=eight@example.com") == ["eight@example.com"]


def test_parallel_detaches_count_each_member_once(stack: Stack) -> None:
    caller = fresh_tenant(stack)
    group = caller.post("/api/groups", json={"name": "Out"}).json()["id"]
    emails = [f"out{i}@example.com" for i in range(5)]
    caller.post("/api/contacts/bulk", json={"contacts": [{"email": e} for e in emails], "groupIds": [group]})
    answers = simultaneously(
        [
            lambda: caller.post(f"/api/groups/{group}/contacts/detach", json={"emails": emails}, timeout=60)
            for _ in range(4)
        ]
    )
    assert sum(a.json()["detached"] for a in answers) == 5
    assert listing(caller, f"group={group}") == []
    assert caller.get(f"/api/groups/{group}").json()["memberCount"] == 0
