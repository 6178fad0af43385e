"""The relay in-process: stream records to events, parked records, SQS outages, replayed batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.repository.aws import client as aws_client
from chalicelib.schemas.events import ParkedStreamRecord
from chalicelib.services.relay import unpack_parked
from chalicelib.settings import settings
from tests.functional.conftest import Caller
from tests.functional.consumer import consume_events
from tests.functional.stream import pending_records, pump_relay, run_relay
from tests.functional.test_webhooks import register, run_deliveries
from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


class SqsCalls:
    """Counts the service's SQS calls; `refuse = True` makes each fail as an unreachable SQS would."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refuse = False
        self.after_send: Any = None

    def before(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        if self.refuse:
            raise EndpointConnectionError(endpoint_url="sqs (refused by the test)")

    def after(self, **_: Any) -> None:
        if self.after_send is not None:
            self.after_send()


@pytest.fixture
def sqs_calls(aws: None) -> Iterator[SqsCalls]:
    calls = SqsCalls()
    events = aws_client("sqs").meta.events
    events.register("before-call.sqs", calls.before, unique_id="test-sqs-calls")
    events.register("after-call.sqs.SendMessageBatch", calls.after, unique_id="test-sqs-after")
    yield calls
    events.unregister("before-call.sqs", unique_id="test-sqs-calls")
    events.unregister("after-call.sqs.SendMessageBatch", unique_id="test-sqs-after")


def parked_records() -> list[ParkedStreamRecord]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.stream_parked_queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [ParkedStreamRecord.model_validate_json(m["Body"]) for m in messages]


def test_single_contact_writes_make_no_sqs_call(acme: Caller, sqs_calls: SqsCalls) -> None:
    contact = acme.post("/api/contacts", {"email": "quiet@example.com"}).json_body
    acme.patch(f"/api/contacts/{contact['id']}", {"firstName": "Q", "email": "still-quiet@example.com"})
    acme.post(f"/api/contacts/{contact['id']}/tags", {"tags": ["vip"]})
    acme.delete(f"/api/contacts/{contact['id']}")
    acme.delete(f"/api/contacts/{contact['id']}?permanent=true")
    assert sqs_calls.calls == []


def test_an_email_change_is_one_update_and_an_erase_one_permanent_deletion(acme, client, receiver):
    register(acme, receiver.url())
    contact = acme.post("/api/contacts", {"email": "old@example.com", "firstName": "Ann"}).json_body
    acme.patch(f"/api/contacts/{contact['id']}", {"email": "new@example.com", "lastName": "Lee"})
    acme.delete(f"/api/contacts/{contact['id']}?permanent=true")
    run_deliveries(client, until=lambda: len(receiver.received) >= 3)
    payloads = [r.json() for r in receiver.received]
    assert [p["type"] for p in payloads] == ["contact.created", "contact.updated", "contact.deleted"]
    assert payloads[1]["data"]["changedFields"] == ["email", "lastName"]
    assert payloads[1]["data"]["changes"]["email"] == {"old": "old@example.com", "new": "new@example.com"}
    assert payloads[2]["data"]["permanent"] is True and payloads[2]["data"]["contact"]["id"] == contact["id"]
    assert {p["data"]["contact"]["id"] for p in payloads} == {contact["id"]}


def test_a_record_that_cannot_be_converted_is_parked_and_later_changes_still_flow(acme, client, receiver):
    register(acme, receiver.url())
    # An item no write path would make: no id, no createdAt, a lastChange that is not a note.
    boto3.client("dynamodb").put_item(
        TableName=settings.contacts_table,
        Item={"tenantId": {"S": acme.tenant_id}, "email": {"S": "odd@example.com"}, "lastChange": {"S": "[1"}},
    )
    acme.post("/api/contacts", {"email": "after@example.com"})
    run_deliveries(client, until=lambda: len(receiver.received) >= 1)
    assert [r.json()["data"]["contact"]["email"] for r in receiver.received] == ["after@example.com"]
    [parked] = parked_records()
    assert parked.keys == {"tenantId": {"S": acme.tenant_id}, "email": {"S": "odd@example.com"}}
    assert parked.eventName == "INSERT" and parked.stage in ("parse", "events")
    replayable = unpack_parked(parked)
    assert replayable is not None and replayable["eventID"] == parked.eventID


def test_sqs_refusing_makes_the_relay_raise_and_the_retried_batch_sends_the_same_events(
    acme: Caller, client: Any, receiver: Receiver, sqs_calls: SqsCalls
) -> None:
    register(acme, receiver.url(), events=["contact.created"])
    acme.post("/api/contacts/bulk", {"contacts": [{"email": f"r{i}@example.com"} for i in range(30)]})
    batch = pending_records()
    sqs_calls.refuse = True
    with pytest.raises(EndpointConnectionError):
        run_relay(batch)
    sqs_calls.refuse = False
    run_relay(batch)  # what Lambda does next: the same records again
    run_relay(batch)  # and once more, as if the first success had not been recorded
    run_deliveries(client, until=lambda: len(receiver.received) >= 30)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 30 and len(set(ids)) == 30


def test_a_relay_dying_after_sending_part_of_its_batch_delivers_each_event_once(
    acme: Caller, client: Any, receiver: Receiver, sqs_calls: SqsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import events

    register(acme, receiver.url(), events=["contact.created"])
    acme.post("/api/contacts/bulk", {"contacts": [{"email": f"k{i}@example.com"} for i in range(40)]})
    batch = pending_records()
    # Ten events a message and one message a call: the batch takes four SendMessageBatch calls.
    monkeypatch.setattr(events, "MAX_EVENTS_PER_MESSAGE", 10)
    monkeypatch.setattr("chalicelib.repository.queues.MAX_BATCH_MESSAGES", 1)
    sends: list[int] = []

    def die_after_the_second_send() -> None:
        sends.append(1)
        if len(sends) == 2:
            raise RuntimeError("the relay died")

    sqs_calls.after_send = die_after_the_second_send
    with pytest.raises(RuntimeError):
        run_relay(batch)
    run_relay(batch)
    assert len(sends) == 2 + 4
    run_deliveries(client, until=lambda: len(receiver.received) >= 40)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 40 and len(set(ids)) == 40
    contact = acme.get("/api/contacts?limit=1").json_body["data"][0]
    timeline = acme.get(f"/api/contacts/{contact['id']}/activity").json_body["data"]
    assert [e["type"] for e in timeline].count("contact.created") == 1


def test_replaying_a_batch_after_the_events_were_consumed_changes_no_timeline(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "replay@example.com"}).json_body
    acme.patch(f"/api/contacts/{contact['id']}", {"firstName": "R"})
    batch = pending_records()
    run_relay(batch)
    consume_events()
    first = acme.get(f"/api/contacts/{contact['id']}/activity").json_body["data"]
    run_relay(batch)
    consume_events()
    assert acme.get(f"/api/contacts/{contact['id']}/activity").json_body["data"] == first
    assert [e["type"] for e in first] == ["contact.updated", "contact.created"]
    assert pump_relay() == 0
