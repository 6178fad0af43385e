"""The backfill: contacts stored before the index and counter consumers ran become searchable and counted."""

from __future__ import annotations

import json

import pytest

from chalicelib import admin
from chalicelib.repository import counters as counters_repo
from chalicelib.repository import search_index as index_repo
from chalicelib.services import backfill
from tests.functional.conftest import Caller
from tests.functional.stream import pending_records
from tests.functional.test_search import _expected_index, search
from tests.functional.test_totals import assert_totals_match, total


def forget_the_stream() -> None:
    """Drop every pending stream record unrelayed: what was stored before the consumers were deployed."""
    while pending_records():
        pass


@pytest.fixture
def before_the_consumers(acme: Caller, globex: Caller) -> list[str]:
    groups = [acme.post("/api/groups", {"name": f"g{i}"}).json_body["id"] for i in range(2)]
    rows = [
        {
            "email": f"c{i:02d}@example.com",
            "lastName": "Needleman" if i % 10 == 3 else f"Other{i}",
            "status": ["lead", "customer", None][i % 3],
            "tags": [["vip"], ["newsletter"], ["vip", "churn-risk"], []][i % 4],
        }
        for i in range(40)
    ]
    assert acme.post("/api/contacts/bulk", {"contacts": rows, "groupIds": [groups[0]]}).status_code == 200
    acme.post("/api/contacts", {"email": "g@example.com", "subscription": "confirmed", "groupIds": groups})
    ids = {c["email"]: c["id"] for c in acme.walk_pages("/api/contacts?limit=100")}
    acme.delete(f"/api/contacts/{ids['c13@example.com']}")  # archived: neither searchable nor counted
    acme.delete(f"/api/contacts/{ids['c23@example.com']}?permanent=true")
    globex.post("/api/contacts", {"email": "theirs@example.com", "lastName": "Needleman"})
    forget_the_stream()
    return groups


def test_contacts_stored_before_the_consumers_are_searchable_and_counted_after_the_backfill(
    acme: Caller, globex: Caller, before_the_consumers: list[str]
) -> None:
    assert search(acme, "needle") == []  # nothing indexed, nothing counted yet
    assert total(acme) == 0

    result = backfill.backfill_tenant(acme.tenant_id)

    # 39 contacts and 1 archived; counters: all, 2 statuses, 2 subscriptions, 3 tags, 2 groups
    assert (result.contacts, result.counters) == (40, 10)
    assert search(acme, "needle") == ["c03@example.com", "c33@example.com"]
    assert search(acme, "needleman", filters={"tags": ["churn-risk"]}) == []
    assert index_repo.index_item_keys(acme.tenant_id) == _expected_index(acme.tenant_id)
    assert total(acme) == 39
    assert_totals_match(acme, before_the_consumers)
    assert search(globex, "needle") == []  # another tenant is left alone


def test_a_second_backfill_changes_nothing_and_zeroes_a_counter_nobody_counts_in(
    acme: Caller, before_the_consumers: list[str]
) -> None:
    backfill.backfill_tenant(acme.tenant_id)
    built = index_repo.index_item_keys(acme.tenant_id)
    counters_repo.replace_counts(acme.tenant_id, {"tag#gone": 7})  # a drifted or stale counter

    backfill.backfill_tenant(acme.tenant_id)

    assert index_repo.index_item_keys(acme.tenant_id) == built
    assert counters_repo.get_count(acme.tenant_id, "tag#gone") == 0
    assert_totals_match(acme, before_the_consumers)


def test_the_command_backfills_every_tenant(
    acme: Caller, globex: Caller, before_the_consumers: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin.main(["backfill"]) == 0

    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["tenantId"]: line["contacts"] for line in printed} == {acme.tenant_id: 40, globex.tenant_id: 1}
    assert search(globex, "needle") == ["theirs@example.com"]
    assert total(acme) == 39
