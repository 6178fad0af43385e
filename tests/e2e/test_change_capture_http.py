"""Change capture end to end: HTTP writes, the stream relay, SQS and a real receiver, with injected faults.

These tests start a local stack of their own with `--fault-port` (devstack/faults.py): SQS
refusing every call for a window, the relay dying in the middle of a batch, and a record
the relay cannot convert. Whatever happens, every committed change reaches the receiver
exactly once per event id, and every contact's timeline shows its creation once.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from chalicelib.schemas.events import ParkedStreamRecord
from chalicelib.settings import settings
from tests.conftest import E2E_STACK_ARGS
from tests.receiver import Receiver
from tests.stack import HttpCaller, Stack, create_tenant, free_port, start_stack

pytestmark = pytest.mark.e2e

# The figure; a loaded machine may take a quarter of an hour to deliver them all
# (CAPTURE_ROWS=2000 runs the same test smaller).
ROWS = int(os.environ.get("CAPTURE_ROWS", "10000"))


@pytest.fixture(scope="module")
def faulty() -> Iterator[Stack]:
    running = start_stack(args=["--fault-port", str(free_port()), "--count-calls", *E2E_STACK_ARGS])
    yield running
    running.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def set_faults(stack: Stack, **switches: Any) -> dict[str, Any]:
    answer = requests.post(stack.ready["faults"], json=switches, timeout=10)
    answer.raise_for_status()
    state: dict[str, Any] = answer.json()
    return state


def call_counts(stack: Stack) -> dict[str, Any]:
    """The stack's call counts since the previous report (`--count-calls`: SIGUSR1 prints them)."""
    seen = len(stack.output)
    stack.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in stack.output[seen:]:
            if line.startswith('{"dynamodbCalls"'):
                found: dict[str, Any] = json.loads(line)
                return found
        time.sleep(0.05)
    raise AssertionError("the stack did not report its calls")


def tenant(stack: Stack, name: str) -> tuple[HttpCaller, str]:
    created = create_tenant(stack, name)
    return HttpCaller(stack.api, created["apiKey"]), str(created["tenantId"])


def register(caller: HttpCaller, url: str) -> None:
    answer = caller.post("/api/webhooks", json={"url": url, "events": ["contact.created"]})
    assert answer.status_code == 201, answer.text


def bulk_until_done(caller: HttpCaller, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Send the rows in one request, then as a client does: rows answered `unprocessed` (the request's
    29 s ran out, as on a busy machine) again, in chunks of 2,000. Answers email -> contact id of every row."""
    ids: dict[str, str] = {}
    pending = rows
    chunk = len(rows)
    for _ in range(60):
        left: list[dict[str, Any]] = []
        for start in range(0, len(pending), chunk):
            part = pending[start : start + chunk]
            answer = caller.post("/api/contacts/bulk", json={"contacts": part, "returnResults": True}, timeout=300)
            assert answer.status_code == 200, answer.text
            results = answer.json()["results"]
            assert all(r["code"] == "unprocessed" for r in answer.json()["errors"]), answer.json()["errors"][:3]
            ids.update({r["email"]: r["id"] for r in results if r["action"] != "error"})
            left += [part[r["index"]] for r in results if r["action"] == "error"]
        if not left:
            return ids
        pending, chunk = left, 2_000
    raise AssertionError(f"{len(pending)} rows never went in")


def wait_for_ids(receiver: Receiver, expected: int, timeout: float) -> Counter[str]:
    """Wait for `expected` deliveries, then a little longer so that a duplicate would show."""
    deadline = time.monotonic() + timeout
    while len(receiver.received) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)
    return Counter(r.headers["webhook-id"] for r in receiver.received)


def aws(stack: Stack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.aws,
        region_name="us-east-1",
        aws_access_key_id="devstack",
        aws_secret_access_key="devstack",
    )


def created_entries(stack: Stack, tenant_id: str) -> Counter[str]:
    """contact id -> number of contact.created entries in its timeline (an operator's scan of the table)."""
    found: Counter[str] = Counter()
    pages = aws(stack, "dynamodb").get_paginator("scan").paginate(TableName=settings.activity_table)
    for page in pages:
        for item in page["Items"]:
            tenant, _, contact_id = item["pk"]["S"].partition("#")
            if tenant == tenant_id and item["type"]["S"] == "contact.created":
                found[contact_id] += 1
    return found


@pytest.mark.timeout(2400)  # 10,000 deliveries to a receiver on one busy machine
def test_a_bulk_of_ten_thousand_rows_during_an_sqs_outage_each_reach_the_receiver_once(faulty, receiver):
    caller, tenant_id = tenant(faulty, "Outage")
    register(caller, receiver.url())
    rows = [{"email": f"outage{i:05d}@example.com", "company": "Acme"} for i in range(ROWS)]
    done: dict[str, Any] = {}
    bulk = threading.Thread(target=lambda: done.update(ids=bulk_until_done(caller, rows)))
    bulk.start()
    time.sleep(1.0)  # the relay is sending the first changes: now SQS goes away
    set_faults(faulty, sqs="refuse")
    try:
        bulk.join(timeout=1200)
        # Single creates inside the window too (after the bulk: one request at a time on this stack).
        singles = [caller.post("/api/contacts", json={"email": f"single{i}@example.com"}) for i in range(5)]
        assert [s.status_code for s in singles] == [201] * 5  # the request path never needs SQS
        time.sleep(2.0)
    finally:
        state = set_faults(faulty, sqs="accept")
    assert state["refusedCalls"] > 0  # the outage really hit the relay

    ids = {**done["ids"], **{s.json()["email"]: s.json()["id"] for s in singles}}
    assert len(ids) == ROWS + 5
    seen = wait_for_ids(receiver, ROWS + 5, timeout=1800)
    assert len(seen) == ROWS + 5 and max(seen.values()) == 1  # every event, none twice
    delivered = {r.json()["data"]["contact"]["id"] for r in receiver.received}
    assert delivered == set(ids.values())
    entries = created_entries(faulty, tenant_id)
    assert {contact_id: entries[contact_id] for contact_id in ids.values()} == dict.fromkeys(ids.values(), 1)


@pytest.mark.timeout(1200)
def test_a_relay_dying_mid_batch_sends_the_same_event_ids_again_and_none_is_delivered_twice(faulty, receiver):
    caller, _ = tenant(faulty, "Crash")
    register(caller, receiver.url())
    # Incompressible custom fields: one relay batch needs several SendMessageBatch calls, so the relay
    # dies with part of its batch sent.
    rows = [
        {"email": f"crash{i:04d}@example.com", "customFields": {"noise": secrets.token_hex(600)}} for i in range(1_500)
    ]
    set_faults(faulty, relayCrashAfterCalls=1)
    ids = bulk_until_done(caller, rows)
    seen = wait_for_ids(receiver, len(ids), timeout=600)
    assert set_faults(faulty)["relayCrashes"] == 1
    assert len(seen) == len(ids) == 1500 and max(seen.values()) == 1
    assert {r.json()["data"]["contact"]["id"] for r in receiver.received} == set(ids.values())


@pytest.mark.timeout(600)
def test_changes_made_while_the_relay_is_paused_wait_on_the_stream_and_each_arrive_once_after(faulty, receiver):
    caller, _ = tenant(faulty, "Paused")
    register(caller, receiver.url())
    assert set_faults(faulty, relay="pause")["relay"] == "pause"
    try:
        created = [caller.post("/api/contacts", json={"email": f"paused{i}@example.com"}) for i in range(20)]
        assert [answer.status_code for answer in created] == [201] * 20  # writes never wait for the relay
        time.sleep(3)
        assert receiver.received == []  # nothing left the stream while the relay was paused
    finally:
        assert set_faults(faulty, relay="run")["relay"] == "run"
    seen = wait_for_ids(receiver, 20, timeout=300)
    assert len(seen) == 20 and max(seen.values()) == 1
    assert {r.json()["data"]["contact"]["id"] for r in receiver.received} == {a.json()["id"] for a in created}


def test_a_record_the_relay_cannot_convert_is_parked_and_later_changes_are_delivered(faulty, receiver):
    caller, tenant_id = tenant(faulty, "Parked")
    register(caller, receiver.url())
    call_counts(faulty)
    odd = {"tenantId": {"S": tenant_id}, "email": {"S": "odd@example.com"}, "lastChange": {"S": "{not json"}}
    aws(faulty, "dynamodb").put_item(TableName=settings.contacts_table, Item=odd)
    later = caller.post("/api/contacts", json={"email": "later@example.com"})
    assert later.status_code == 201
    bulk = caller.post("/api/contacts/bulk", json={"contacts": [{"email": f"b{i}@example.com"} for i in range(50)]})
    assert bulk.status_code == 200 and bulk.json()["created"] == 50
    # The request path sends nothing; the relay does.
    assert call_counts(faulty)["sqsCalls"] == {}
    seen = wait_for_ids(receiver, 51, timeout=120)
    assert receiver.received[0].json()["data"]["contact"]["email"] == "later@example.com"
    assert len(seen) == len(receiver.received) == 51
    sqs = aws(faulty, "sqs")
    url = sqs.get_queue_url(QueueName=settings.stream_parked_queue)["QueueUrl"]
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    parked = [ParkedStreamRecord.model_validate_json(body) for body in bodies]
    assert [p.keys for p in parked] == [{"tenantId": {"S": tenant_id}, "email": {"S": "odd@example.com"}}]
