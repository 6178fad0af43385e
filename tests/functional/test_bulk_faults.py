"""The bulk path under what moto never does: unprocessed items, throttling, oversized batches, the deadline."""

from __future__ import annotations

import itertools
from typing import Any

from chalicelib.schemas.bulk import BulkUpsertBody
from chalicelib.services import bulk
from chalicelib.services.auth import Principal
from tests.functional.conftest import Caller
from tests.functional.dynamo import DropHalf, Throttle, counting, stored_counts

ROWS = 300


def rows(n: int = ROWS, **extra: Any) -> list[dict[str, Any]]:
    return [{"email": f"user{i}@example.com", "firstName": f"U{i}", **extra} for i in range(n)]


def principal(caller: Caller) -> Principal:
    return Principal(caller.tenant_id, "key_test", frozenset({"contacts:write"}))


def all_emails(caller: Caller) -> set[str]:
    return {c["email"] for c in caller.walk_pages("/api/contacts?limit=100")}


def assert_all_stored(caller: Caller, n: int, tag: str) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = caller.get(f"/api/contacts?tag={tag}&limit=100" + (f"&cursor={cursor}" if cursor else "")).json_body
        seen.extend(page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(c["email"] for c in seen) == sorted(f"user{i}@example.com" for i in range(n))
    for contact in seen[:20]:  # the id pointers landed too
        assert caller.get(f"/api/contacts/{contact['id']}").status_code == 200


def test_unprocessed_items_and_keys_are_retried_until_every_row_lands(acme: Caller) -> None:
    with DropHalf(times=40).installed() as faults:
        response = acme.post("/api/contacts/bulk", {"contacts": rows(), "tags": ["imported"]})
    assert faults.trimmed == 40
    answer = response.json_body
    assert (answer["created"], answer["errors"]) == (ROWS, [])
    assert_all_stored(acme, ROWS, "imported")
    assert stored_counts() == {
        "fli-dev-contacts": ROWS,
        "fli-dev-contact-keys": ROWS,
        "fli-dev-memberships": ROWS + 1,  # and the tag catalog's entry for "imported"
    }


def test_updates_survive_unprocessed_items_too(acme: Caller) -> None:
    acme.post("/api/contacts/bulk", {"contacts": rows(), "tags": ["imported"]})
    with DropHalf(times=30).installed():
        answer = acme.post("/api/contacts/bulk", {"contacts": rows(company="Acme")}).json_body
    assert (answer["updated"], answer["errors"]) == (ROWS, [])
    page = acme.post("/api/contacts/search", {"filters": {"tags": ["imported"]}, "limit": 100}).json_body["data"]
    assert {c["company"] for c in page} == {"Acme"}


def test_throttling_is_retried_with_backoff(acme: Caller) -> None:
    with Throttle(times=6).installed() as throttle:
        answer = acme.post("/api/contacts/bulk", {"contacts": rows(), "tags": ["imported"]}).json_body
    assert throttle.left == 0
    assert (answer["created"], answer["errors"]) == (ROWS, [])
    assert_all_stored(acme, ROWS, "imported")


def test_no_batch_call_exceeds_dynamodb_limits(acme: Caller) -> None:
    n = 1_000
    with counting() as log:
        answer = acme.post("/api/contacts/bulk", {"contacts": rows(n), "tags": ["a", "b"]}).json_body
        assert answer["created"] == n
        answer = acme.post("/api/contacts/bulk", {"contacts": rows(n, company="C")}).json_body
        assert answer["updated"] == n
        tags = {"emails": [f"user{i}@example.com" for i in range(n)], "addTags": ["c"], "removeTags": ["a"]}
        assert acme.patch("/api/contacts/bulk/tags", tags).json_body["matched"] == n
    assert log.write_sizes and max(log.write_sizes) <= 25
    assert log.get_sizes and max(log.get_sizes) <= 100
    # Full batches, so the model's minimum number of calls. Writes go in two phases (pointers and new
    # memberships first, then contacts and deletions): create = (id pointer + 2 memberships) + contact,
    # update = contact, retag = 1 membership put + (contact + 1 membership delete); plus one call
    # for the tag catalog of each request that adds tags (docs/rotation.md).
    assert log.calls["BatchGetItem"] == 3 * (n // 100)
    assert log.calls["BatchWriteItem"] == (3 * n + n) // 25 + n // 25 + (n + 2 * n) // 25 + 2


def test_rows_not_written_before_the_deadline_are_retryable_errors(acme: Caller) -> None:
    # DynamoDB keeps refusing half of every batch, and the Lambda's clock runs out after a few calls.
    clock = itertools.count()
    body = BulkUpsertBody(contacts=rows(), tags=["imported"])
    with DropHalf().installed():
        outcome = bulk.run_bulk_upsert(principal(acme), body, remaining=lambda: 100.0 - next(clock) * 5)
    answer = bulk.answer(outcome, with_results=True)
    unprocessed = [e for e in answer.errors if e.code == "unprocessed"]
    assert unprocessed, "the deadline should have stopped some rows"
    assert answer.created + len(answer.errors) == ROWS
    # Nothing is lost: a row is either stored or reported (the contact item is written last, so a reported
    # new row left no contact behind), and sending the reported rows again completes the import.
    stored = all_emails(acme)
    reported = {e.email for e in unprocessed}
    assert stored | reported == {r["email"] for r in rows()}
    assert not stored & reported
    retry = [r for r in rows() if r["email"] in reported]
    again = acme.post("/api/contacts/bulk", {"contacts": retry, "tags": ["imported"]}).json_body
    assert again["errors"] == []
    assert_all_stored(acme, ROWS, "imported")


def test_a_deadline_before_the_preload_reports_every_row(acme: Caller) -> None:
    before = stored_counts()
    body = BulkUpsertBody(contacts=[*rows(5), {"email": "bad"}])
    outcome = bulk.run_bulk_upsert(principal(acme), body, remaining=lambda: 1.0)
    answer = bulk.answer(outcome, with_results=False)
    assert [e.code for e in answer.errors] == ["unprocessed"] * 5 + ["validation_error"]
    assert answer.totalSubmitted == 6
    assert stored_counts() == before
