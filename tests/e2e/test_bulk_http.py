"""The CRM nightly sync over real HTTP against the devstack: 5,000 rows, 4,800 existing, 200 new."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import own_stack, tenant_caller
from tests.e2e.test_activity_rotation_http import eventually
from tests.stack import HttpCaller, Stack

pytestmark = pytest.mark.e2e

EXISTING, NEW = 4_800, 200


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Its own stack: the nightly sync leaves the relay ~10,000 stream records (see own_stack)."""
    yield from own_stack()


@pytest.fixture(scope="module")
def acme(stack: Stack) -> HttpCaller:
    return tenant_caller(stack, "Acme")


@pytest.fixture(scope="module")
def globex(stack: Stack) -> HttpCaller:
    return tenant_caller(stack, "Globex")


def all_contacts(caller: HttpCaller, query: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = caller.get(f"/api/contacts?limit=100{query}" + (f"&cursor={cursor}" if cursor else "")).json()
        found.extend(page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            return found


# The stream consumers behind totals and the search index process ~10,000 records here; on the local
# stack they share one process (and its GIL) with the embedded AWS, about 100 s on a 2-core machine.
@pytest.mark.timeout(600)
def test_nightly_sync_updates_4800_creates_200_and_leaves_unsent_fields_alone(acme: HttpCaller) -> None:
    group = acme.post("/api/groups", json={"name": "CRM"}).json()
    seed = [
        {"email": f"crm{i:05d}@nightly.example.com", "firstName": f"F{i}", "phone": f"+1{i:07d}", "tags": ["seed"]}
        for i in range(EXISTING)
    ]
    seeded = acme.post("/api/contacts/bulk", json={"contacts": seed}).json()
    assert (seeded["created"], seeded["errors"]) == (EXISTING, [])

    nightly = [
        {"email": f"CRM{i:05d}@nightly.example.com", "company": "Acme", "status": "customer"}
        for i in range(EXISTING + NEW)
    ]
    response = acme.post(
        "/api/contacts/bulk",
        json={"contacts": nightly, "tags": ["crm-sync:2026-05-14"], "groupIds": [group["id"]]},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == {
        "totalSubmitted": EXISTING + NEW,
        "created": NEW,
        "updated": EXISTING,
        "unchanged": 0,
        "skipped": 0,
        "errors": [],
    }

    # A filtered listing reads the index that follows the change stream: it catches up within seconds.
    synced = eventually(
        lambda: all_contacts(acme, "&tag=crm-sync:2026-05-14"), lambda found: len(found) == EXISTING + NEW
    )
    assert len(synced) == EXISTING + NEW
    by_email = {c["email"]: c for c in synced}
    old, new = by_email["crm00007@nightly.example.com"], by_email[f"crm{EXISTING + 3:05d}@nightly.example.com"]
    # Fields the CRM did not send are left alone; what it sent is applied; tags are added.
    assert (old["firstName"], old["phone"], old["company"], old["status"]) == ("F7", "+10000007", "Acme", "customer")
    assert old["tags"] == ["crm-sync:2026-05-14", "seed"]
    assert (new["firstName"], new["source"], new["groupIds"]) == (None, "bulk", [group["id"]])
    # memberCount follows the change stream (counters): it catches up once the relay has read the ~10,000 records.
    member_count = eventually(
        lambda: acme.get(f"/api/groups/{group['id']}").json()["memberCount"], lambda n: n == EXISTING + NEW, 300
    )
    assert member_count == EXISTING + NEW
    assert acme.get(f"/api/contacts/{new['id']}").status_code == 200

    again = acme.post("/api/contacts/bulk", json={"contacts": nightly, "tags": ["crm-sync:2026-05-14"]}, timeout=120)
    assert again.json()["unchanged"] == EXISTING + NEW


def test_bulk_is_tenant_isolated_over_http(acme: HttpCaller, globex: HttpCaller) -> None:
    theirs = globex.post("/api/contacts", json={"email": "isolated@example.com", "firstName": "G"}).json()
    answer = acme.post(
        "/api/contacts/bulk", json={"contacts": [{"email": "isolated@example.com"}], "returnResults": True}
    ).json()
    assert answer["results"][0]["action"] == "created"
    tags = {"contactIds": [theirs["id"]], "addTags": ["x"]}
    assert acme.patch("/api/contacts/bulk/tags", json=tags).json()["matched"] == 0
    assert globex.get(f"/api/contacts/{theirs['id']}").json()["tags"] == []


def test_oversized_bulk_is_413_over_http(acme: HttpCaller) -> None:
    rows = [{"email": f"big{i}@example.com"} for i in range(10_001)]
    response = acme.post("/api/contacts/bulk", json={"contacts": rows}, timeout=60)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert all_contacts(acme, "&search=big") == []
