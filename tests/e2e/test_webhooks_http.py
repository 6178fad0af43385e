"""Webhooks end to end: the API over HTTP, the local stack's SQS poller, a real receiver on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from tests.receiver import Receiver
from tests.stack import HttpCaller, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def register(caller: HttpCaller, url: str, **body: Any) -> dict[str, Any]:
    created = caller.post("/api/webhooks", json={"url": url, **body})
    assert created.status_code == 201, created.text
    return dict(created.json())


def deliveries_of(caller: HttpCaller, hook: dict[str, Any]) -> list[dict[str, Any]]:
    answer = caller.get(f"/api/webhooks/{hook['id']}/deliveries")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def wait_until(check: Any, timeout: float = 120.0) -> Any:
    # Generous: on the shared stack the relay may still be working through earlier modules' writes.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def test_a_local_receiver_gets_signed_deliveries(acme, receiver):
    hook = register(acme, receiver.url(), events=["contact.created"])
    created = acme.post("/api/contacts", json={"email": "hook-e2e@example.com"})
    assert created.status_code == 201
    contact_id = created.json()["id"]
    # Its own event: the endpoint may also hear a contact another test created in the second it was registered.
    [delivery] = wait_until(
        lambda: [r for r in receiver.received if r.json()["data"]["contact"]["id"] == contact_id], timeout=180
    )
    payload = Webhook(hook["secret"]).verify(delivery.body, delivery.headers)
    assert payload["type"] == "contact.created"
    assert payload["data"]["actor"]["type"] == "apiKey"
    [logged] = wait_until(
        lambda: [d for d in deliveries_of(acme, hook) if d["eventId"] == payload["id"] and d["status"] == "succeeded"]
    )
    assert logged["attempts"] == 1


def test_a_receiver_failing_then_recovering_gets_the_event_on_a_later_attempt(acme, receiver):
    receiver.status_for = lambda n: 500 if n == 1 else 200
    hook = register(acme, receiver.url())
    acme.post("/api/contacts", json={"email": "flaky-e2e@example.com"})
    received = receiver.wait_for(2, timeout=180)
    assert len(received) == 2 and received[0].headers["webhook-id"] == received[1].headers["webhook-id"]
    [delivery] = wait_until(lambda: [d for d in deliveries_of(acme, hook) if d["status"] == "succeeded"])
    assert delivery["attempts"] >= 2 and delivery["lastStatusCode"] == 200


def test_a_receiver_that_always_fails_ends_failed_and_in_the_dlq(stack: Stack, acme, receiver):
    receiver.status_for = lambda n: 500
    hook = register(acme, receiver.url())
    acme.post("/api/contacts", json={"email": "dead-e2e@example.com"})
    [delivery] = wait_until(lambda: [d for d in deliveries_of(acme, hook) if d["status"] == "failed"])
    assert delivery["attempts"] == len(receiver.received) >= 2
    assert delivery["lastStatusCode"] == 500 and delivery["lastError"] == "HTTP 500"

    sqs = boto3.client(
        "sqs", endpoint_url=stack.aws, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    dlq = sqs.get_queue_url(QueueName="fli-dev-events-dlq")["QueueUrl"]

    def dead_letter() -> bool:
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])]
        return any(delivery["id"] in body for body in bodies)

    assert wait_until(dead_letter, timeout=10)


def test_no_event_reaches_another_tenant_and_excluded_keys_are_not_echoed(acme, globex, receiver):
    # The key acme's requests use (other tests may have added keys to this tenant).
    [acme_key] = [k["id"] for k in acme.get("/api/keys").json()["data"] if k["name"] == "default"]
    register(acme, receiver.url("/acme-all"))
    register(acme, receiver.url("/acme-no-echo"), excludeActorKeyIds=[acme_key])
    register(globex, receiver.url("/globex"))
    acme.post("/api/contacts", json={"email": "iso-acme@example.com"})
    globex.post("/api/contacts", json={"email": "iso-globex@example.com"})
    received = receiver.wait_for(2, timeout=180)
    time.sleep(1.5)  # anything wrongly routed would have arrived by now
    seen = sorted((r.path, r.json()["data"]["contact"]["email"]) for r in receiver.received)
    assert seen == [("/acme-all", "iso-acme@example.com"), ("/globex", "iso-globex@example.com")], received


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "https://[fe80::1]/",
        "https://100.64.0.1/",
        "nope",
    ],
)
def test_unsafe_webhook_urls_are_refused_over_http(acme, url):
    answer = acme.post("/api/webhooks", json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "url"
