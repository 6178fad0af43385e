"""Webhooks in-process: CRUD over chalice.test.Client, delivery through moto's SQS and the real handler."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.repository.aws import client as aws_client
from chalicelib.schemas.events import Event, EventData, SystemActor
from chalicelib.services import events, ssrf, webhook_delivery
from chalicelib.services.webhook_http import HttpResult
from chalicelib.settings import settings
from devstack.workers import LambdaContext, sqs_lambda_event
from tests.functional.conftest import Caller
from tests.functional.stream import pump_relay
from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def restore_hooks() -> Iterator[None]:
    yield
    ssrf.set_resolver(None)
    webhook_delivery.set_transport(None)


def queue_url(name: str) -> str:
    return str(boto3.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def invoke(event: dict[str, Any]) -> None:
    """Call the SQS handler as Lambda does, with the function's configured 300 s timeout.

    (chalice.test's `client.lambda_.invoke` always gives the context 3 s, see the deferral test.)
    """
    from app import deliver_webhooks

    deliver_webhooks(event, LambdaContext("deliver_webhooks", 300, time.monotonic()))


def run_deliveries(client: Any, until: Callable[[], bool] = lambda: False, timeout: float = 10.0) -> int:
    """Pump the relay, then feed the events queue to the SQS handler as Lambda would, until `until()` or the
    queue is empty."""
    pump_relay()
    sqs = boto3.client("sqs")
    url = queue_url(settings.events_queue)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handled = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            waiting = sum(int(counts[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"))
            if waiting == 0:
                break
            time.sleep(0.2)
            continue
        invoke(sqs_lambda_event(messages, arn, "us-east-1"))
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        handled += len(messages)
    return handled


def dead_letters() -> list[str]:
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=queue_url(settings.events_dlq), MaxNumberOfMessages=10)
    return [m["Body"] for m in answer.get("Messages", [])]


def register(caller: Caller, url: str, **body: Any) -> dict[str, Any]:
    created = caller.post("/api/webhooks", {"url": url, **body})
    assert created.status_code == 201, created.body
    return dict(created.json_body)


def key_id_of(caller: Caller) -> str:
    return str(caller.get("/api/keys").json_body["data"][0]["id"])


# Endpoint CRUD


def test_secret_is_shown_only_at_creation(acme, receiver):
    created = register(acme, receiver.url(), events=["contact.created"], description="CRM")
    assert created["id"].startswith("wh_")
    assert created["secret"].startswith("whsec_") and len(base64.b64decode(created["secret"][6:])) >= 24
    assert created["active"] is True and created["events"] == ["contact.created"]
    fetched = acme.get(f"/api/webhooks/{created['id']}").json_body
    listed = acme.get("/api/webhooks").json_body["data"]
    assert "secret" not in fetched and all("secret" not in w for w in listed)
    assert fetched["description"] == "CRM" and [w["id"] for w in listed] == [created["id"]]


def test_patch_toggles_active_and_changes_filters_and_delete_removes(acme, receiver):
    hook = register(acme, receiver.url())
    patched = acme.patch(f"/api/webhooks/{hook['id']}", {"active": False, "events": ["contact.deleted", "*"]})
    assert patched.status_code == 200, patched.body
    assert patched.json_body["active"] is False and sorted(patched.json_body["events"]) == ["*", "contact.deleted"]
    deleted = acme.delete(f"/api/webhooks/{hook['id']}").json_body
    assert deleted["id"] == hook["id"] and deleted["deleted"] is True
    assert deleted["url"] == hook["url"] and "secret" not in deleted
    assert acme.get(f"/api/webhooks/{hook['id']}").status_code == 404


def test_another_tenants_webhook_answers_404(acme, globex, receiver):
    hook = register(acme, receiver.url())
    for method, path in (
        ("GET", f"/api/webhooks/{hook['id']}"),
        ("PATCH", f"/api/webhooks/{hook['id']}"),
        ("DELETE", f"/api/webhooks/{hook['id']}"),
        ("GET", f"/api/webhooks/{hook['id']}/deliveries"),
        ("POST", f"/api/webhooks/{hook['id']}/deliveries/dlv_x/retry"),
    ):
        answer = globex.request(method, path, {"active": False} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.body)
        assert answer.json_body["error"]["code"] == "not_found"
    assert globex.get("/api/webhooks").json_body["data"] == []


def test_webhooks_need_the_webhooks_scope(acme, client):
    key = acme.post("/api/keys", {"name": "reader", "scopes": ["contacts:read"]}).json_body["key"]
    reader = Caller(client, acme.tenant_id, key)
    assert reader.get("/api/webhooks").status_code == 403
    assert reader.post("/api/webhooks", {"url": "https://example.com/"}).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://example.com/hook",
        "https://user:pw@example.com/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hook",
        "https://192.168.1.10/hook",
        "https://100.64.1.1/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://metadata.example.com/hook",  # resolves to the metadata address
        "https://intranet.example.com/hook",  # resolves to a private address
    ],
)
def test_unsafe_or_invalid_urls_are_refused_with_422(acme, url):
    fake_dns = {"metadata.example.com": ["169.254.169.254"], "intranet.example.com": ["93.184.216.34", "10.2.3.4"]}
    ssrf.set_resolver(lambda host, port: fake_dns.get(host, ["93.184.216.34"]))
    answer = acme.post("/api/webhooks", {"url": url})
    assert answer.status_code == 422, answer.body
    assert answer.json_body["error"]["code"] == "validation_error"
    assert answer.json_body["error"]["details"][0]["field"] == "url"


def test_unknown_event_types_are_refused(acme, receiver):
    answer = acme.post("/api/webhooks", {"url": receiver.url(), "events": ["contact.exploded"]})
    assert answer.status_code == 422


# Delivery


def test_contact_writes_are_delivered_signed_with_the_contact_and_actor(acme, client, receiver):
    hook = register(acme, receiver.url())
    contact = acme.post("/api/contacts", {"email": "ann@example.com"}).json_body
    acme.patch(f"/api/contacts/{contact['id']}", {"firstName": "Ann"})
    acme.post(f"/api/contacts/{contact['id']}/tags", {"tags": ["vip"]})
    acme.delete(f"/api/contacts/{contact['id']}")
    acme.post(f"/api/contacts/{contact['id']}/restore")
    acme.delete(f"/api/contacts/{contact['id']}?permanent=true")
    run_deliveries(client, until=lambda: len(receiver.received) >= 6)

    verifier = Webhook(hook["secret"])
    payloads = [verifier.verify(r.body, r.headers) for r in receiver.received]
    assert [p["type"] for p in payloads] == [
        "contact.created",
        "contact.updated",
        "contact.updated",
        "contact.deleted",
        "contact.restored",
        "contact.deleted",
    ]
    assert all(r.headers["webhook-id"] == p["id"] for r, p in zip(receiver.received, payloads, strict=True))
    assert set(payloads[0]) == {"id", "type", "createdAt", "data"}
    assert payloads[0]["data"]["contact"]["email"] == "ann@example.com"
    assert payloads[0]["data"]["actor"] == {"type": "apiKey", "apiKeyId": key_id_of(acme)}
    assert payloads[1]["data"]["changedFields"] == ["firstName"]
    assert payloads[1]["data"]["changes"]["firstName"] == {"old": None, "new": "Ann"}
    assert payloads[2]["data"]["changedFields"] == ["tags"]
    assert payloads[5]["data"]["permanent"] is True

    deliveries = acme.get(f"/api/webhooks/{hook['id']}/deliveries").json_body["data"]
    assert len(deliveries) == 6
    assert all(d["status"] == "succeeded" and d["attempts"] == 1 and d["lastStatusCode"] == 204 for d in deliveries)
    assert [d["eventId"] for d in deliveries] == [p["id"] for p in reversed(payloads)]  # newest first


def test_event_filters_and_inactive_endpoints(acme, client, receiver):
    register(acme, receiver.url("/created"), events=["contact.created"])
    register(acme, receiver.url("/off"), active=False)
    contact = acme.post("/api/contacts", {"email": "f@example.com"}).json_body
    acme.patch(f"/api/contacts/{contact['id']}", {"company": "Acme"})
    run_deliveries(client)
    assert [(r.path, r.json()["type"]) for r in receiver.received] == [("/created", "contact.created")]


def test_an_endpoint_hears_only_what_happens_after_it_is_created(acme, client, receiver):
    acme.post("/api/contacts", {"email": "before@example.com"})  # committed, still in the relay's backlog
    time.sleep(1.05)  # stream commit times are whole seconds: the endpoint must be a later second
    register(acme, receiver.url())
    acme.post("/api/contacts", {"email": "after@example.com"})
    run_deliveries(client, until=lambda: len(receiver.received) >= 1)
    run_deliveries(client)
    assert [r.json()["data"]["contact"]["email"] for r in receiver.received] == ["after@example.com"]


def test_no_event_reaches_another_tenants_endpoint(acme, globex, client, receiver):
    register(acme, receiver.url("/acme"))
    register(globex, receiver.url("/globex"))
    acme.post("/api/contacts", {"email": "a@example.com"})
    globex.post("/api/contacts", {"email": "g@example.com"})
    run_deliveries(client, until=lambda: len(receiver.received) >= 2)
    run_deliveries(client)
    seen = sorted((r.path, r.json()["data"]["contact"]["email"]) for r in receiver.received)
    assert seen == [("/acme", "a@example.com"), ("/globex", "g@example.com")]


def test_excluded_actor_keys_are_not_echoed(acme, client, receiver):
    crm_key = acme.post("/api/keys", {"name": "crm", "scopes": ["contacts:write"]}).json_body
    crm = Caller(client, acme.tenant_id, crm_key["key"])
    register(acme, receiver.url(), excludeActorKeyIds=[crm_key["id"]])
    crm.post("/api/contacts", {"email": "from-crm@example.com"})
    acme.post("/api/contacts", {"email": "from-ui@example.com"})
    run_deliveries(client)
    assert [r.json()["data"]["contact"]["email"] for r in receiver.received] == ["from-ui@example.com"]


def test_a_failing_receiver_gets_retries_until_it_recovers(acme, client, receiver):
    receiver.status_for = lambda n: 503 if n == 1 else 200
    hook = register(acme, receiver.url())
    acme.post("/api/contacts", {"email": "r@example.com"})
    run_deliveries(client, until=lambda: len(receiver.received) >= 2)
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    [delivery] = acme.get(f"/api/webhooks/{hook['id']}/deliveries").json_body["data"]
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("succeeded", 2, 200)


def test_a_permanently_failing_receiver_ends_failed_and_in_the_dlq(acme, client, receiver):
    receiver.status_for = lambda n: 500
    hook = register(acme, receiver.url())
    acme.post("/api/contacts", {"email": "dead@example.com"})
    attempts = len(settings.webhook_retry_schedule) + 1
    run_deliveries(client, timeout=15)
    assert len(receiver.received) == attempts
    [delivery] = acme.get(f"/api/webhooks/{hook['id']}/deliveries").json_body["data"]
    assert delivery["status"] == "failed" and delivery["attempts"] == attempts
    assert delivery["lastStatusCode"] == 500 and delivery["nextAttemptAt"] is None
    [letter] = dead_letters()
    assert '"kind":"failed_delivery"' in letter and delivery["eventId"] in letter

    retried = acme.post(f"/api/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 202 and retried.json_body["status"] == "pending"
    receiver.status_for = lambda n: 200
    run_deliveries(client, until=lambda: len(receiver.received) > attempts)
    [delivery] = acme.get(f"/api/webhooks/{hook['id']}/deliveries").json_body["data"]
    assert delivery["status"] == "succeeded" and delivery["attempts"] == attempts + 1


def test_one_failing_delivery_never_repeats_the_others_in_its_batch(acme, client, receiver):
    receiver.status_for = lambda n: 200
    failing = Receiver(status_for=lambda n: 500).start()
    try:
        register(acme, receiver.url("/ok"))
        register(acme, failing.url("/broken"))
        for i in range(5):
            acme.post("/api/contacts", {"email": f"batch{i}@example.com"})
        run_deliveries(client, timeout=15)
        assert len(receiver.received) == 5
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 5
        assert len(failing.received) == 5 * (len(settings.webhook_retry_schedule) + 1)
    finally:
        failing.stop()


def test_sqs_redelivering_a_batch_does_not_deliver_twice(acme, client, receiver):
    register(acme, receiver.url())
    acme.post("/api/contacts", {"email": "once@example.com"})
    pump_relay()
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url(settings.events_queue), MaxNumberOfMessages=10)["Messages"]
    event = sqs_lambda_event(messages, "arn:aws:sqs:us-east-1:123456789012:events", "us-east-1")
    invoke(event)
    invoke(event)  # as if the first invocation had timed out and SQS handed the batch out again
    assert len(receiver.received) == 1


def test_deliveries_not_started_before_the_deadline_are_deferred_not_lost(acme, client, receiver):
    hook = register(acme, receiver.url())
    acme.post("/api/contacts", {"email": "late@example.com"})
    pump_relay()
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url(settings.events_queue), MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=queue_url(settings.events_queue), ReceiptHandle=messages[0]["ReceiptHandle"])
    # chalice.test's Lambda context says 3 s remain: too little to start a 10 s delivery, so it is re-enqueued.
    client.lambda_.invoke("deliver_webhooks", sqs_lambda_event(messages, "arn:aws:sqs:us-east-1:1:events", "us-east-1"))
    assert receiver.received == []
    assert acme.get(f"/api/webhooks/{hook['id']}/deliveries").json_body["data"][0]["status"] == "pending"
    run_deliveries(client)
    assert len(receiver.received) == 1


def test_dns_rebinding_to_a_private_address_is_refused_at_delivery(acme, client):
    answers = iter([["93.184.216.34"]])  # registration sees a public address, delivery a private one
    ssrf.set_resolver(lambda host, port: next(answers, ["10.0.0.7"]))
    connected: list[str] = []

    def transport(target: Any, headers: dict[str, str], body: bytes, timeout: float) -> HttpResult:
        connected.append(target.address)
        return HttpResult(200, None)

    webhook_delivery.set_transport(transport)
    hook = register(acme, "https://hooks.example.com/in")
    acme.post("/api/contacts", {"email": "rebind@example.com"})
    run_deliveries(client, timeout=15)
    assert connected == []
    delivery = acme.get(f"/api/webhooks/{hook['id']}/deliveries").json_body["data"][0]
    assert delivery["status"] == "failed"
    assert "refused" in delivery["lastError"] and "10.0.0.7" in delivery["lastError"]


def test_delivery_connects_to_the_address_that_was_checked(acme, client):
    ssrf.set_resolver(lambda host, port: ["93.184.216.34"])
    seen: list[tuple[str, str, int, str]] = []

    def transport(target: Any, headers: dict[str, str], body: bytes, timeout: float) -> HttpResult:
        seen.append((target.host, target.address, target.port, target.path))
        assert timeout == settings.webhook_timeout_seconds == 10
        return HttpResult(200, None)

    webhook_delivery.set_transport(transport)
    register(acme, "https://hooks.example.com:8443/in?x=1")
    acme.post("/api/contacts", {"email": "pinned@example.com"})
    run_deliveries(client)
    assert seen == [("hooks.example.com", "93.184.216.34", 8443, "/in?x=1")]


def test_deliveries_are_cursor_paged_newest_first_and_cursors_are_tenant_bound(acme, globex, client, receiver):
    hook = register(acme, receiver.url())
    for i in range(5):
        acme.post("/api/contacts", {"email": f"p{i}@example.com"})
    run_deliveries(client)
    seen: list[str] = []
    cursor = None
    while True:
        page = acme.get(f"/api/webhooks/{hook['id']}/deliveries?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [d["id"] for d in page.json_body["data"]]
        cursor = page.json_body["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    first = acme.get(f"/api/webhooks/{hook['id']}/deliveries?limit=2").json_body["nextCursor"]
    other = register(globex, receiver.url())
    assert globex.get(f"/api/webhooks/{other['id']}/deliveries?cursor={first}").status_code == 400
    assert acme.get(f"/api/webhooks/{hook['id']}/deliveries?limit=0").status_code == 422


# Publishing cost


def test_ten_thousand_events_cost_a_handful_of_sqs_calls(aws):
    calls: list[str] = []
    sqs = aws_client("sqs")
    sqs.meta.events.register("before-call.sqs.*", lambda model, **kw: calls.append(model.name))
    actor = SystemActor(type="schedule")
    sent = [
        Event(
            id=f"evt_{i:016x}",
            type="contact.created",
            createdAt="2026-01-01T00:00:00.000Z",
            tenantId="tnt_bulk",
            data=EventData.model_validate(
                {
                    "contact": {
                        "id": f"00000000-0000-0000-0000-{i:012d}",
                        "email": f"row{i}@example.com",
                        "firstName": f"Row {i}",
                        "company": "Acme",
                        "subscription": "unconfirmed",
                        "source": "bulk",
                        "tags": ["import:2026-q1", "newsletter"],
                        "groupIds": [],
                        "customFields": {"plan": "starter", "row": i},
                        "createdAt": "2026-01-01T00:00:00.000Z",
                        "updatedAt": "2026-01-01T00:00:00.000Z",
                    },
                    "actor": actor,
                    "eventKey": "newContact",
                }
            ),
        )
        for i in range(10_000)
    ]
    assert events.send(sent) == calls.count("SendMessageBatch")
    batches = calls.count("SendMessageBatch")
    print(f"10,000 events: {batches} SendMessageBatch calls, {len(calls)} SQS calls in all")
    assert batches <= 5 and len(calls) <= 6  # plus one GetQueueUrl

    url = queue_url(settings.events_queue)
    received = 0
    while True:
        messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            received += len(events.decode_message(message["Body"]).events)  # type: ignore[union-attr]
            boto3.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert received == 10_000
