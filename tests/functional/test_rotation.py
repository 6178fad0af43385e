"""Tag rotation: rules over HTTP, runs through the membership index, expiry, the hourly schedule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest

from chalicelib.repository import rotation as rotation_repo
from chalicelib.repository import tag_catalog
from chalicelib.repository.batch import Deadline
from chalicelib.services import rotation
from chalicelib.settings import settings
from devstack.calls import _service_clients
from tests.functional.conftest import Caller
from tests.functional.test_bulk_events import drain_events

RULE = {"pointerTag": "crm-sync:current", "sourcePrefix": "crm-sync:"}


def emails_tagged(caller: Caller, tag: str) -> list[str]:
    found: list[str] = []
    cursor = ""
    while True:
        page = caller.get(f"/api/contacts?limit=100&tag={tag}{cursor}").json_body
        found += [c["email"] for c in page["data"]]
        if not page["nextCursor"]:
            return sorted(found)
        cursor = f"&cursor={page['nextCursor']}"


def import_batch(caller: Caller, emails: list[str], tag: str) -> None:
    answer = caller.post("/api/contacts/bulk", {"contacts": [{"email": e} for e in emails], "tags": [tag]})
    assert answer.status_code == 200 and answer.json_body["errors"] == [], answer.json_body


def run(caller: Caller, rule_id: str) -> dict[str, Any]:
    answer = caller.post(f"/api/tag-rotations/{rule_id}/run")
    assert answer.status_code == 200, answer.json_body
    result: dict[str, Any] = answer.json_body
    return result


def test_rules_are_created_listed_and_deleted(acme):
    created = acme.post("/api/tag-rotations", {**RULE, "expireAfterDays": 30})
    assert created.status_code == 201
    rule = created.json_body
    assert rule["id"].startswith("rot_") and rule["createdAt"].endswith("Z")
    assert (rule["pointerTag"], rule["sourcePrefix"], rule["expireAfterDays"]) == ("crm-sync:current", "crm-sync:", 30)
    assert acme.get("/api/tag-rotations").json_body == {"data": [rule]}
    assert acme.delete(f"/api/tag-rotations/{rule['id']}").json_body == {"id": rule["id"], "deleted": True}
    assert acme.get("/api/tag-rotations").json_body == {"data": []}
    assert acme.delete(f"/api/tag-rotations/{rule['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**RULE, "pointerTag": "crm-sync:2026-05-20"}, "pointerTag"),
        ({**RULE, "pointerTag": "crm-sync:"}, "pointerTag"),
        ({**RULE, "pointerTag": "p" * 101}, "pointerTag"),
        ({**RULE, "sourcePrefix": "s" * 101}, "sourcePrefix"),
        ({**RULE, "sourcePrefix": ""}, "sourcePrefix"),
        ({**RULE, "expireAfterDays": 0}, "expireAfterDays"),
        ({**RULE, "expireAfterDays": "7"}, "expireAfterDays"),
        ({**RULE, "extra": 1}, "extra"),
        ({"sourcePrefix": "crm-sync:"}, "pointerTag"),
    ],
)
def test_invalid_rules_are_422_and_write_nothing(acme, body, field):
    answer = acme.post("/api/tag-rotations", body)
    assert answer.status_code == 422
    assert answer.json_body["error"]["code"] == "validation_error"
    assert field in [d["field"] for d in answer.json_body["error"]["details"]]
    assert acme.get("/api/tag-rotations").json_body == {"data": []}


def test_bad_json_is_400(acme):
    answer = acme.post("/api/tag-rotations", "{nope")
    assert answer.status_code == 400 and answer.json_body["error"]["code"] == "bad_request"


def test_another_tenants_rule_is_404_and_rules_need_keys_manage(acme, globex, client):
    rule = acme.post("/api/tag-rotations", RULE).json_body
    assert globex.post(f"/api/tag-rotations/{rule['id']}/run").status_code == 404
    assert globex.delete(f"/api/tag-rotations/{rule['id']}").status_code == 404
    assert globex.get("/api/tag-rotations").json_body == {"data": []}
    writer = acme.post("/api/keys", {"name": "w", "scopes": ["contacts:write", "contacts:read"]}).json_body
    limited = Caller(client, acme.tenant_id, writer["key"])
    assert limited.get("/api/tag-rotations").status_code == 403
    assert limited.post(f"/api/tag-rotations/{rule['id']}/run").status_code == 403


def test_the_morning_rotation_moves_the_pointer_to_todays_batch(acme):
    yesterday = [f"y{i}@example.com" for i in range(6)]
    today = [f"y{i}@example.com" for i in range(4, 6)] + [f"t{i}@example.com" for i in range(3)]
    import_batch(acme, yesterday, "crm-sync:2026-05-13")
    rule = acme.post("/api/tag-rotations", RULE).json_body
    assert run(acme, rule["id"]) == {"sourceTag": "crm-sync:2026-05-13", "added": 6, "removed": 0}
    assert emails_tagged(acme, "crm-sync:current") == sorted(yesterday)

    import_batch(acme, today, "crm-sync:2026-05-14")
    drain_events()
    assert run(acme, rule["id"]) == {"sourceTag": "crm-sync:2026-05-14", "added": 3, "removed": 4}
    assert emails_tagged(acme, "crm-sync:current") == sorted(today)
    assert emails_tagged(acme, "crm-sync:2026-05-13") == sorted(yesterday)  # batch tags stay without expiry

    published = drain_events()
    assert len(published) == 7
    assert all(e.type == "contact.updated" and e.data.actor.type == "schedule" for e in published)
    assert all(e.data.model_dump()["changedFields"] == ["tags"] for e in published)

    assert run(acme, rule["id"]) == {"sourceTag": "crm-sync:2026-05-14", "added": 0, "removed": 0}
    assert drain_events() == []  # a second run changes nothing
    assert acme.get("/api/tag-rotations").json_body["data"][0]["lastRunAt"] is not None


def test_expiry_removes_dated_source_tags_older_than_the_limit(acme):
    import_batch(acme, ["a@example.com", "b@example.com"], "crm-sync:2026-05-01")
    import_batch(acme, ["b@example.com"], "crm-sync:2026-05-10")
    import_batch(acme, ["c@example.com"], "crm-sync:2026-05-12")
    import_batch(acme, ["c@example.com", "d@example.com"], "crm-sync:2026-05-14")
    import_batch(acme, ["a@example.com"], "crm-sync:notes")  # not a date: left alone
    rule = acme.post("/api/tag-rotations", {**RULE, "expireAfterDays": 3}).json_body
    item = rotation_repo.get_rule(acme.tenant_id, rule["id"])
    assert item is not None

    result = rotation.run(item, Deadline(), today=date(2026, 5, 14))
    # "crm-sync:notes" sorts after the dates, but it is the greatest tag: it is the source.
    assert result.sourceTag == "crm-sync:notes"
    assert emails_tagged(acme, "crm-sync:2026-05-01") == []
    assert emails_tagged(acme, "crm-sync:2026-05-10") == []
    assert emails_tagged(acme, "crm-sync:2026-05-12") == ["c@example.com"]  # 2 days old: kept
    assert emails_tagged(acme, "crm-sync:notes") == ["a@example.com"]
    remaining = list(tag_catalog.tags_with_prefix(acme.tenant_id, "crm-sync:", descending=False))
    assert "crm-sync:2026-05-01" not in remaining and "crm-sync:2026-05-12" in remaining
    again = rotation.run(item, Deadline(), today=date(2026, 5, 14))
    assert (again.added, again.removed) == (0, 0)


def test_the_newest_date_is_the_source_and_a_tag_nobody_carries_is_skipped(acme):
    import_batch(acme, ["a@example.com"], "crm-sync:2026-05-13")
    import_batch(acme, ["b@example.com"], "crm-sync:2026-05-14")
    import_batch(acme, ["c@example.com"], "crm-sync:2026-05-15")
    acme.patch("/api/contacts/bulk/tags", {"emails": ["c@example.com"], "removeTags": ["crm-sync:2026-05-15"]})
    rule = acme.post("/api/tag-rotations", {**RULE, "expireAfterDays": 1}).json_body
    result = run(acme, rule["id"])
    assert result["sourceTag"] == "crm-sync:2026-05-14"
    assert emails_tagged(acme, "crm-sync:current") == ["b@example.com"]
    # the source is never expired, whatever its age
    assert emails_tagged(acme, "crm-sync:2026-05-14") == ["b@example.com"]


def test_without_any_source_tag_a_run_changes_nothing(acme):
    acme.post("/api/contacts", {"email": "p@example.com", "tags": ["crm-sync:current"]})
    rule = acme.post("/api/tag-rotations", RULE).json_body
    assert run(acme, rule["id"]) == {"sourceTag": None, "added": 0, "removed": 0}
    assert emails_tagged(acme, "crm-sync:current") == ["p@example.com"]


def test_single_contact_writes_feed_the_tag_catalog(acme):
    contact = acme.post("/api/contacts", {"email": "one@example.com", "tags": ["crm-sync:2026-05-02"]}).json_body
    acme.post(f"/api/contacts/{contact['id']}/tags", {"tags": ["crm-sync:2026-05-03"]})
    acme.patch(f"/api/contacts/{contact['id']}", {"tags": ["crm-sync:2026-05-04"]})
    assert list(tag_catalog.tags_with_prefix(acme.tenant_id, "crm-sync:", descending=True)) == [
        "crm-sync:2026-05-04",
        "crm-sync:2026-05-03",
        "crm-sync:2026-05-02",
    ]


@contextmanager
def every_client_hooked(handler: Any) -> Iterator[None]:
    """The hook on every DynamoDB client the service uses: the repository's and PynamoDB's own."""
    clients = _service_clients()
    for dynamodb in clients:
        dynamodb.meta.events.register("before-parameter-build.dynamodb", handler, unique_id="rotation-test")
    try:
        yield
    finally:
        for dynamodb in clients:
            dynamodb.meta.events.unregister("before-parameter-build.dynamodb", handler, unique_id="rotation-test")


class TableCalls:
    """DynamoDB calls by (operation, table), from the parameters botocore is about to send."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.operations: Counter[str] = Counter()
        self.tenant_queries: list[dict[str, Any]] = []

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.operations[model.name] += 1
        tables = [params["TableName"]] if "TableName" in params else sorted(params.get("RequestItems", {}))
        for table in tables or ["?"]:
            self.calls[(model.name, table)] += 1
        if model.name == "Query" and params.get("TableName") == settings.contacts_table:
            self.tenant_queries.append(params)

    def by_operation(self) -> dict[str, int]:
        return dict(sorted(self.operations.items()))


def test_a_tenant_with_thousands_of_tagged_contacts_rotates_without_scanning(acme, capsys):
    yesterday = [f"u{i:05d}@example.com" for i in range(3000)]
    today = [f"u{i:05d}@example.com" for i in range(1500, 4000)]
    import_batch(acme, yesterday, "crm-sync:2026-05-13")
    rule = acme.post("/api/tag-rotations", RULE).json_body
    assert run(acme, rule["id"])["added"] == 3000
    import_batch(acme, today, "crm-sync:2026-05-14")

    item = rotation_repo.get_rule(acme.tenant_id, rule["id"])
    assert item is not None

    counter = TableCalls()
    # Run without the API's 29 s limit: this test counts calls, and a loaded CI machine can take longer than
    # 29 s for 5,000 writes on moto (a run cut short by its deadline is finished by the next hourly run).
    with every_client_hooked(counter.record):
        result = rotation.run(item, Deadline()).model_dump()
    assert result == {"sourceTag": "crm-sync:2026-05-14", "added": 1000, "removed": 1500}
    operations = counter.by_operation()
    with capsys.disabled():
        print("\nrotation of 4,000 tagged contacts, DynamoDB calls:", operations)
    assert "Scan" not in operations
    assert counter.tenant_queries == []  # nothing queries the contacts table's tenant partition
    # only the 2,500 contacts whose tags change are read (100 a call); they, 1,000 new and 1,500 deleted
    # memberships are written 25 a call (contacts last, in a phase of their own: see docs/bulk.md)
    assert counter.calls[("BatchGetItem", settings.contacts_table)] == 25
    assert operations["BatchWriteItem"] <= 5000 // 25 + 2
    assert emails_tagged(acme, "crm-sync:current") == today


def test_a_run_cut_short_by_its_deadline_is_finished_by_the_next(acme):
    batch = [f"d{i:04d}@example.com" for i in range(300)]
    import_batch(acme, batch, "crm-sync:2026-05-14")
    rule = acme.post("/api/tag-rotations", RULE).json_body
    item = rotation_repo.get_rule(acme.tenant_id, rule["id"])
    assert item is not None
    # Time runs out after 18 deadline checks: the contacts' reads (3) and memberships' writes (12) come first,
    # so it falls among the contacts' writes, after the memberships naming all 300 were written.
    checks = iter(range(1_000_000))
    running_out = Deadline(lambda: 60.0 if next(checks) < 18 else 0.0)

    first = rotation.run(item, running_out)
    assert 0 < first.added < 300  # stopped part-way and says so: only what was written counts
    assert len(emails_tagged(acme, "crm-sync:current")) == first.added

    second = rotation.run(item, Deadline())
    assert first.added + second.added == 300 and second.removed == 0
    assert emails_tagged(acme, "crm-sync:current") == batch


def test_the_hourly_schedule_runs_every_rule_of_every_tenant(acme, globex, client):
    import_batch(acme, ["a1@example.com", "a2@example.com"], "crm-sync:2026-05-14")
    import_batch(globex, ["g1@example.com"], "batch/2026-05-14")
    acme.post("/api/tag-rotations", RULE)
    globex.post("/api/tag-rotations", {"pointerTag": "latest", "sourcePrefix": "batch/"})
    drain_events()

    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/contacts-api-prod-rotate_tags-event"],
    )
    response = client.lambda_.invoke("rotate_tags", event)
    outcome = response.payload
    assert outcome["rules"] == 2
    assert sorted((r["sourceTag"], r["added"], r["removed"]) for r in outcome["results"]) == [
        ("batch/2026-05-14", 1, 0),
        ("crm-sync:2026-05-14", 2, 0),
    ]
    assert emails_tagged(acme, "crm-sync:current") == ["a1@example.com", "a2@example.com"]
    assert emails_tagged(globex, "latest") == ["g1@example.com"]
    assert emails_tagged(acme, "latest") == []
    published = drain_events()
    assert len(published) == 3 and {e.data.actor.type for e in published} == {"schedule"}

    again = client.lambda_.invoke("rotate_tags", event).payload
    assert all((r["added"], r["removed"]) == (0, 0) for r in again["results"])
