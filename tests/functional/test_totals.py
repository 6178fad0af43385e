"""includeTotal and group memberCount: per-tenant counters kept from the change stream equal a full count."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

from chalicelib.repository import counters as counters_repo
from tests.functional.conftest import Caller
from tests.functional.dynamo import _Http, hooked
from tests.functional.stream import RelayPump

STATUSES = ["lead", "customer", None]
TAGS = ["vip", "newsletter", "churn-risk"]


def total(caller: Caller, query: str = "") -> Any:
    answer = caller.get(f"/api/contacts?limit=1&includeTotal=true{query}")
    assert answer.status_code == 200, answer.body
    return answer.json_body["total"]


def full_count(caller: Caller, query: str = "") -> int:
    return len(caller.walk_pages(f"/api/contacts?limit=100{query}"))


def assert_totals_match(caller: Caller, group_ids: list[str]) -> None:
    filters = ["", "&status=lead", "&status=customer", "&subscription=confirmed", "&subscription=unconfirmed"]
    filters += [f"&tag={quote(tag)}" for tag in TAGS] + [f"&group={group_id}" for group_id in group_ids]
    for query in filters:
        assert total(caller, query) == full_count(caller, query), query
    for group_id in group_ids:
        member_count = caller.get(f"/api/groups/{group_id}").json_body["memberCount"]
        assert member_count == full_count(caller, f"&group={group_id}")


def test_totals_follow_bulk_tag_group_archive_restore_erase_and_email_changes(acme: Caller, relay: RelayPump) -> None:
    rng = random.Random(12)
    groups = [acme.post("/api/groups", {"name": f"g{i}"}).json_body["id"] for i in range(2)]
    rows = [
        {
            "email": f"c{i}@example.com",
            "status": rng.choice(STATUSES),
            "tags": rng.sample(TAGS, rng.randint(0, 2)),
        }
        for i in range(60)
    ]
    assert acme.post("/api/contacts/bulk", {"contacts": rows, "groupIds": [groups[0]]}).status_code == 200
    ids = [c["id"] for c in acme.walk_pages("/api/contacts?limit=100")]
    relay.pump()
    assert total(acme) == 60
    assert_totals_match(acme, groups)

    for contact_id in rng.sample(ids, 10):
        acme.post(f"/api/contacts/{contact_id}/tags", {"tags": ["vip"]})
    for contact_id in rng.sample(ids, 5):
        acme.delete(f"/api/contacts/{contact_id}/tags", {"tags": ["newsletter"]})
    acme.post(f"/api/groups/{groups[1]}/contacts/attach", {"contactIds": rng.sample(ids, 20)})
    acme.post(f"/api/groups/{groups[0]}/contacts/detach", {"contactIds": rng.sample(ids, 7)})
    acme.patch("/api/contacts/bulk/tags", {"contactIds": rng.sample(ids, 15), "addTags": ["churn-risk"]})
    archived = rng.sample(ids, 12)
    for contact_id in archived:
        acme.delete(f"/api/contacts/{contact_id}")
    for contact_id in archived[:4]:
        acme.post(f"/api/contacts/{contact_id}/restore")
    acme.post(f"/api/contacts/{archived[5]}/tags", {"tags": ["vip"]})  # a change to an archived contact
    erased = [*[i for i in ids if i not in archived][:3], archived[6]]
    for contact_id in erased:
        acme.delete(f"/api/contacts/{contact_id}?permanent=true")
    moved = [i for i in ids if i not in archived and i not in erased][:3]
    for n, contact_id in enumerate(moved):
        acme.patch(f"/api/contacts/{contact_id}", {"email": f"moved{n}@example.com", "status": "customer"})
    acme.post("/api/contacts", {"email": "new@example.com", "subscription": "confirmed", "groupIds": groups})
    relay.pump()

    assert total(acme) == 60 - 8 - 3 + 1
    assert_totals_match(acme, groups)


def test_a_replayed_batch_changes_no_total(acme: Caller, relay: RelayPump) -> None:
    group = acme.post("/api/groups", {"name": "g"}).json_body["id"]
    rows = [{"email": f"c{i}@example.com", "tags": ["vip"]} for i in range(40)]
    acme.post("/api/contacts/bulk", {"contacts": rows, "groupIds": [group]})
    relay.pump()
    before = (total(acme), total(acme, "&tag=vip"), total(acme, f"&group={group}"))
    relay.replay_last()
    relay.replay_last()
    assert (total(acme), total(acme, "&tag=vip"), total(acme, f"&group={group}")) == before == (40, 40, 40)


def test_a_contact_with_many_tags_is_counted_once_per_tag_even_when_replayed(acme: Caller, relay: RelayPump) -> None:
    tags = [f"t{i:03}" for i in range(120)]  # more counters than one transaction holds: applied in parts
    acme.post("/api/contacts", {"email": "many@example.com", "tags": tags})
    relay.pump()
    relay.replay_last()
    counts = counters_repo.get_counts(acme.tenant_id, [f"tag#{tag}" for tag in tags] + ["all"])
    assert set(counts.values()) == {1}


def test_member_count_leaves_out_archived_members(acme: Caller, relay: RelayPump) -> None:
    group = acme.post("/api/groups", {"name": "g"}).json_body["id"]
    created = [acme.post("/api/contacts", {"email": f"c{i}@example.com", "groupIds": [group]}) for i in range(3)]
    ids = [answer.json_body["id"] for answer in created]
    acme.delete(f"/api/contacts/{ids[0]}")
    relay.pump()
    assert acme.get(f"/api/groups/{group}").json_body["memberCount"] == 2
    acme.post(f"/api/contacts/{ids[0]}/restore")
    relay.pump()
    assert acme.get(f"/api/groups/{group}").json_body["memberCount"] == 3


def test_total_is_null_for_filters_no_single_counter_answers(acme: Caller, relay: RelayPump) -> None:
    acme.post("/api/contacts", {"email": "ann@example.com", "status": "lead", "tags": ["a", "b"]})
    relay.pump()
    assert total(acme, "&search=ann") is None
    assert total(acme, "&status=lead&tag=a") is None
    assert total(acme, "&tag=a") == 1
    search = {"includeTotal": True, "limit": 1}
    assert acme.post("/api/contacts/search", {**search, "filters": {"tags": ["a"]}}).json_body["total"] == 1
    assert acme.post("/api/contacts/search", {**search, "filters": {"tags": ["a", "b"]}}).json_body["total"] is None
    assert acme.post("/api/contacts/search", {**search, "query": "ann"}).json_body["total"] is None
    custom = {**search, "filters": {"customFields": {"plan": "x"}}}
    assert acme.post("/api/contacts/search", custom).json_body["total"] is None
    assert acme.post("/api/contacts/search", {**search, "filters": {"status": "lead"}}).json_body["total"] == 1


def test_without_include_total_the_answer_has_no_total(acme: Caller) -> None:
    assert "total" not in acme.get("/api/contacts").json_body
    assert "total" not in acme.post("/api/contacts/search", {}).json_body
    assert acme.get("/api/contacts?includeTotal=false").json_body == {"data": [], "nextCursor": None}


def test_a_garbled_include_total_is_422(acme: Caller) -> None:
    answer = acme.get("/api/contacts?includeTotal=perhaps")
    assert answer.status_code == 422
    assert answer.json_body["error"]["details"][0]["field"] == "includeTotal"
    assert acme.post("/api/contacts/search", {"includeTotal": "perhaps"}).status_code == 422


def test_totals_of_one_tenant_never_count_another(acme: Caller, globex: Caller, relay: RelayPump) -> None:
    acme.post("/api/contacts", {"email": "a@example.com", "tags": ["vip"]})
    globex.post("/api/contacts", {"email": "g@example.com", "tags": ["vip"]})
    globex.post("/api/contacts", {"email": "h@example.com", "tags": ["vip"]})
    relay.pump()
    assert (total(acme, "&tag=vip"), total(globex, "&tag=vip")) == (1, 2)


def test_a_transaction_conflict_is_retried_until_the_deltas_land(acme: Caller, relay: RelayPump) -> None:
    acme.post("/api/contacts", {"email": "a@example.com", "tags": ["vip"]})
    refused = {"left": 2}

    def conflict_twice(params: dict[str, Any], **_: Any) -> Any:
        if refused["left"]:
            refused["left"] -= 1
            reasons = [{"Code": "TransactionConflict"}] * 3  # the marker and the two counters
            error = {"Code": "TransactionCanceledException", "Message": "conflict"}
            parsed = {"Error": error, "CancellationReasons": reasons, "ResponseMetadata": {"HTTPStatusCode": 400}}
            return _Http(), parsed
        return None

    with hooked("before-call.dynamodb.TransactWriteItems", conflict_twice):
        relay.pump()
    assert refused["left"] == 0
    assert (total(acme), total(acme, "&tag=vip")) == (1, 1)
