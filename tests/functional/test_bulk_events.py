"""Bulk writes emit one event per written contact, packed into few SQS messages."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.schemas.events import EventBatchMessage
from chalicelib.services import events
from chalicelib.settings import settings


def drain_events() -> list[Any]:
    """Every event published so far (the events queue, emptied)."""
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


def test_ten_thousand_rows_cost_a_handful_of_sqs_calls(acme):
    calls: list[str] = []
    from chalicelib.repository.aws import client

    sqs = client("sqs")
    hook = lambda **kw: calls.append(kw["event_name"])  # noqa: E731
    sqs.meta.events.register("before-call.sqs.SendMessageBatch", hook)
    try:
        rows = [{"email": f"row{i}@example.com"} for i in range(10_000)]
        answer = acme.post("/api/contacts/bulk", {"contacts": rows}).json_body
    finally:
        sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", hook)
    assert answer["created"] == 10_000
    assert 1 <= len(calls) <= 5
    assert len(drain_events()) == 10_000


def test_bulk_tags_and_group_attach_emit_updated_events(acme):
    first = acme.post("/api/contacts", {"email": "a@example.com", "tags": ["x"]}).json_body
    second = acme.post("/api/contacts", {"email": "b@example.com", "tags": ["vip"]}).json_body
    group = acme.post("/api/groups", {"name": "Newsletter"}).json_body
    drain_events()
    acme.patch("/api/contacts/bulk/tags", {"contactIds": [first["id"], second["id"]], "addTags": ["vip"]})
    tagged = drain_events()
    assert [(e.type, e.data.contact.id) for e in tagged] == [("contact.updated", first["id"])]
    acme.post(f"/api/groups/{group['id']}/contacts/attach", {"emails": ["a@example.com", "b@example.com"]})
    joined = drain_events()
    assert sorted(e.data.contact.email for e in joined) == ["a@example.com", "b@example.com"]
    assert all(e.data.model_dump()["changedFields"] == ["groupIds"] for e in joined)


def test_bulk_changes_show_bulk_as_their_source_in_the_timeline(acme):
    from tests.functional.consumer import consume_events

    created = acme.post("/api/contacts", {"email": "src@example.com", "company": "Old"}).json_body
    acme.post("/api/contacts/bulk", {"contacts": [{"email": "src@example.com", "company": "New"}]})
    consume_events()
    timeline = acme.get(f"/api/contacts/{created['id']}/activity").json_body["data"]
    assert [(e["type"], e["source"]) for e in timeline] == [("contact.updated", "bulk"), ("contact.created", "api")]
