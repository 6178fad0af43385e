"""Every API call and worker invocation leaves one JSON log line with its ids; secrets never reach the logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import observability
from tests.functional.conftest import Caller, new_caller
from tests.functional.consumer import consume_events
from tests.receiver import Receiver


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The JSON log handler's stream, swapped for a buffer (it keeps the stdout it was created with)."""
    handler = observability.logger().registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_every_api_call_logs_route_status_duration_request_and_tenant(acme: Caller, logs: io.StringIO) -> None:
    created = acme.post("/api/contacts", {"email": "logged@example.com"})
    acme.get(f"/api/contacts/{created.json_body['id']}")
    acme.post("/api/contacts", {"email": "not an email"})
    acme.client.http.get("/api/health")

    calls = [line for line in _lines(logs) if line["message"] == "api call"]
    assert [(c["method"], c["route"], c["status"]) for c in calls] == [
        ("POST", "/api/contacts", 201),
        ("GET", "/api/contacts/{contact_id}", 200),
        ("POST", "/api/contacts", 422),
        ("GET", "/api/health", 200),
    ]
    for call in calls[:3]:
        assert call["tenant_id"] == acme.tenant_id
        assert call["request_id"] and call["level"] == "INFO" and call["service"] == "contacts-api"
        assert isinstance(call["duration_ms"], float)
    assert "tenant_id" not in calls[3]  # a public route: no key, no tenant (and not the previous caller's)


def test_an_unhandled_error_is_logged_as_json_with_the_request_s_ids(
    acme: Caller, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import contacts

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(contacts, "get_contact", broken)
    answer = acme.get("/api/contacts/some-id")
    assert answer.status_code == 500
    [failure] = [line for line in _lines(logs) if line["level"] == "ERROR"]
    assert "RuntimeError: boom" in failure["exception"]
    assert failure["tenant_id"] == acme.tenant_id
    [call] = [line for line in _lines(logs) if line["message"] == "api call"]
    assert call["status"] == 500 and call["request_id"] == failure["request_id"]


def test_emf_metrics_count_contacts_written_and_bulk_rows(acme: Caller, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    acme.post("/api/contacts/bulk", {"contacts": [{"email": f"row{i}@example.com"} for i in range(3)]})
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    [document] = emitted
    names = {m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ContactsApi"
    assert {"BulkRows", "ContactsWritten"} <= names
    assert document["BulkRows"] in (3.0, [3.0]) and document["ContactsWritten"] in (3.0, [3.0])


def test_no_api_key_or_webhook_secret_ever_reaches_the_logs(
    client: Client, logs: io.StringIO, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the level production logs at (LOG_LEVEL); botocore DEBUG prints bodies
    acme = new_caller(client, "Acme")
    receiver = Receiver().start()
    try:
        secrets = [acme.key]
        made = acme.post("/api/keys", {"name": "crm", "scopes": ["contacts:read"]}).json_body
        secrets.append(made["key"])
        hook = acme.post("/api/webhooks", {"url": receiver.url(), "events": ["*"]}).json_body
        secrets.append(hook["secret"])
        bearer = {"Authorization": f"Bearer {made['key']}"}
        acme.get("/api/contacts", headers=bearer)
        acme.post("/api/contacts", {"email": "secretive@example.com"}, headers={"Idempotency-Key": "k-1"})
        acme.get("/api/contacts?cursor=garbled")
        wrong = "fli_" + "x" * 43
        secrets.append(wrong)
        acme.get("/api/contacts", headers={"X-Api-Key": wrong})
        acme.delete(f"/api/keys/{made['id']}")
        acme.get("/api/contacts", headers=bearer)  # revoked
        consume_events()
        assert receiver.received, "the webhook was delivered, signed with its secret"
    finally:
        receiver.stop()

    captured = capsys.readouterr()
    everything = logs.getvalue() + captured.out + captured.err + caplog.text
    lines = _lines(logs)
    assert any(line["message"] == "invocation" and line.get("records") for line in lines)
    deliveries = [line for line in lines if line.get("delivery_id")]
    assert deliveries and deliveries[0]["webhook_id"] == hook["id"]
    assert {line["status"] for line in lines if line["message"] == "api call"} >= {200, 201, 400, 401}
    for secret in secrets:
        assert secret not in everything
        assert secret[8:40] not in everything  # not even a large part of it
