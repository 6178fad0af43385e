"""Bulk writes emit one event per written contact, packed into few SQS messages."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.schemas.events import EventBatchMessage
from chalicelib.services import events
from chalicelib.settings import settings
from tests.functional.stream import pump_relay


def drain_events() -> list[Any]:
    """Every event the relay derives from the changes committed so far (the events queue, emptied)."""
    pump_relay()
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.events_queue)["QueueUrl"]
    found: list[Any] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            decoded = events.decode_message(message["Body"])
            assert isinstance(decoded, EventBatchMessage)
            found.extend(decoded.events)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_bulk_import_emits_created_with_event_key_and_updated_with_changes(acme):
    acme.post("/api/contacts", {"email": "old@example.com", "company": "Acme"})
    acme.post("/api/contacts", {"email": "same@example.com", "company": "Same"})
    drain_events()
    body = {
        "contacts": [
            {"email": "new@example.com", "firstName": "New"},
            {"email": "old@example.com", "company": "Acme Corp"},
            {"email": "same@example.com", "company": "Same"},
            {"email": "new@example.com", "lastName": "Again"},
            {"email": "broken"},
        ],
        "eventKeyForNewContacts": "newContact",
    }
    answer = acme.post("/api/contacts/bulk", body).json_body
    assert (answer["created"], answer["updated"], answer["unchanged"], len(answer["errors"])) == (1, 2, 1, 1)
    published = drain_events()
    by_email = {event.data.contact.email: event for event in published}
    assert sorted(by_email) == ["new@example.com", "old@example.com"]  # one per written contact
    created = by_email["new@example.com"]
    assert created.type == "contact.created"
    assert created.data.model_dump()["eventKey"] == "newContact"
    assert created.data.contact.lastName == "Again"  # the contact as the whole request left it
    updated = by_email["old@example.com"].data.model_dump()
    assert by_email["old@example.com"].type == "contact.updated"
    assert updated["changedFields"] == ["company"]
    assert updated["changes"]["company"] == {"old": "Acme", "new": "Acme Corp"}
    assert updated["actor"]["type"] == "apiKey"


def test_dry_run_emits_nothing(acme):
    acme.post("/api/contacts/bulk", {"contacts": [{"email": "dry@example.com"}], "dryRun": True})
    assert drain_events() == []


def test_a_bulk_request_makes_no_sqs_call_and_the_relay_sends_its_events_in_a_handful(acme):
    from chalicelib.repository.aws import client

    calls: list[str] = []
    sqs = client("sqs")
    hook = lambda **kw: calls.append(kw["event_name"])  # noqa: E731
    sqs.meta.events.register("before-call.sqs", hook)
    try:
        rows = [{"email": f"row{i}@example.com"} for i in range(3_000)]
        answer = acme.post("/api/contacts/bulk", {"contacts": rows}).json_body
        assert answer["created"] == 3_000
        assert calls == []  # the request path talks to DynamoDB only
        assert pump_relay() == 3_000
        relay_calls = list(calls)
    finally:
        sqs.meta.events.unregister("before-call.sqs", hook)
    # Three relay batches of 1,000 changes: one SendMessageBatch each (events packed 500 a message).
    assert relay_calls == ["before-call.sqs.SendMessageBatch"] * 3
    assert len(drain_events()) == 3_000
