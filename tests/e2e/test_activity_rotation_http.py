"""Activity and tag rotation over real HTTP: the local stack's consumer and schedule run in the background."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

from tests.stack import HttpCaller, Stack, create_tenant

CONSUMER_WAIT = 20.0  # the timeline is eventually consistent: the poller usually catches up within ~1-2 s


def eventually(read: Callable[[], Any], ready: Callable[[Any], bool], timeout: float = CONSUMER_WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def tagged(caller: HttpCaller, tag: str) -> list[str]:
    found: list[str] = []
    cursor = ""
    while True:
        page = caller.get(f"/api/contacts?limit=100&tag={tag}{cursor}").json()
        found += [c["email"] for c in page["data"]]
        if not page["nextCursor"]:
            return sorted(found)
        cursor = f"&cursor={page['nextCursor']}"


def test_activity_shows_up_newest_first_and_pages(acme: HttpCaller, globex: HttpCaller):
    contact = acme.post("/api/contacts", json={"email": "timeline@e2e.example.com"}).json()
    acme.patch(f"/api/contacts/{contact['id']}", json={"company": "Acme"})
    acme.post(f"/api/contacts/{contact['id']}/tags", json={"tags": ["vip"]})
    path = f"/api/contacts/{contact['id']}/activity"
    entries = eventually(lambda: acme.get(path).json()["data"], lambda data: len(data) == 3)
    assert [e["type"] for e in entries] == ["contact.updated", "contact.updated", "contact.created"]
    assert entries[0]["details"]["tagsAdded"] == ["vip"]
    assert entries[1]["details"]["changes"]["company"] == {"old": None, "new": "Acme"}
    page = acme.get(path + "?skip=1&take=1").json()
    assert (page["skip"], page["take"], page["data"]) == (1, 1, entries[1:2])
    assert acme.get(path + "?take=201").status_code == 422
    assert globex.get(path).status_code == 404


def test_permanent_delete_erases_activity(acme: HttpCaller):
    contact = acme.post("/api/contacts", json={"email": "erase@e2e.example.com"}).json()
    path = f"/api/contacts/{contact['id']}/activity"
    eventually(lambda: acme.get(path).json()["data"], lambda data: len(data) == 1)
    assert acme.delete(f"/api/contacts/{contact['id']}?permanent=true").json()["permanent"] is True
    assert acme.get(path).status_code == 404


def test_the_morning_rotation_over_http(stack: Stack):
    crm = HttpCaller(stack.api, create_tenant(stack, "Morning")["apiKey"])
    yesterday = [{"email": f"y{i}@crm.example.com"} for i in range(50)]
    today = [{"email": f"y{i}@crm.example.com"} for i in range(40, 50)] + [
        {"email": f"t{i}@crm.example.com"} for i in range(20)
    ]
    crm.post("/api/contacts/bulk", json={"contacts": yesterday, "tags": ["crm-sync:2026-05-13"]}).raise_for_status()
    rule = crm.post("/api/tag-rotations", json={"pointerTag": "crm-sync:current", "sourcePrefix": "crm-sync:"})
    assert rule.status_code == 201
    rule_id = rule.json()["id"]
    first = crm.post(f"/api/tag-rotations/{rule_id}/run").json()
    assert first == {"sourceTag": "crm-sync:2026-05-13", "added": 50, "removed": 0}

    crm.post("/api/contacts/bulk", json={"contacts": today, "tags": ["crm-sync:2026-05-14"]}).raise_for_status()
    morning = crm.post(f"/api/tag-rotations/{rule_id}/run").json()
    assert morning == {"sourceTag": "crm-sync:2026-05-14", "added": 20, "removed": 40}
    assert tagged(crm, "crm-sync:current") == sorted(c["email"] for c in today)
    again = crm.post(f"/api/tag-rotations/{rule_id}/run").json()
    assert again == {"sourceTag": "crm-sync:2026-05-14", "added": 0, "removed": 0}

    moved = crm.get("/api/contacts?tag=crm-sync:current&limit=1").json()["data"][0]
    entries = eventually(
        lambda: crm.get(f"/api/contacts/{moved['id']}/activity").json()["data"],
        lambda data: any(e["source"] == "schedule" for e in data),
    )
    assert any(e["source"] == "schedule" and e["details"]["actor"] == {"type": "schedule"} for e in entries)


def test_the_local_stack_runs_the_schedule_on_demand(stack: Stack):
    crm = HttpCaller(stack.api, create_tenant(stack, "Scheduled")["apiKey"])
    crm.post("/api/contacts", json={"email": "s@sched.example.com", "tags": ["nightly/2026-05-14"]})
    crm.post("/api/tag-rotations", json={"pointerTag": "latest", "sourcePrefix": "nightly/"})
    stack.process.send_signal(signal.SIGUSR2)  # as EventBridge would, with a scheduled event
    assert eventually(lambda: tagged(crm, "latest"), lambda found: found == ["s@sched.example.com"]) == [
        "s@sched.example.com"
    ]
    [rule] = crm.get("/api/tag-rotations").json()["data"]
    assert rule["lastRunAt"] is not None
