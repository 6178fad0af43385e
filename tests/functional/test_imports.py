"""Imports from a file, on moto: upload, chunked processing, exact counts under redelivery and crashes, fileUrl."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.repository.aws import client as aws_client
from chalicelib.services import events as events_service
from chalicelib.services import imports as imports_service
from chalicelib.settings import settings
from tests.functional.conftest import Caller
from tests.functional.consumer import consume_events
from tests.functional.dynamo import hooked
from tests.functional.imports_worker import ImportQueue, WorkerKilled, upload
from tests.import_files import COLUMNS, IMPORT_TAG, FileServer, NastyCsv
from tests.receiver import Receiver

CHUNK_ROWS = 25


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports_service, "settings", dataclasses.replace(settings, import_chunk_rows=CHUNK_ROWS))


@pytest.fixture
def queue(aws: None) -> ImportQueue:
    return ImportQueue()


@pytest.fixture
def files() -> Iterator[FileServer]:
    server = FileServer().start()
    yield server
    server.stop()


def counts(imported: dict[str, Any]) -> dict[str, int]:
    return {name: imported[name] for name in ("created", "updated", "unchanged", "skipped", "errored")}


def start(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    answer = caller.post("/api/imports", body)
    assert answer.status_code == 202, answer.body
    started: dict[str, Any] = answer.json_body
    return started


def import_nasty(
    caller: Caller, queue: ImportQueue, nasty: NastyCsv, arm: Callable[[], None] | None = None, **drain: Any
) -> dict[str, Any]:
    group = caller.post("/api/groups", {"name": "Imported"}).json_body
    seeded = caller.post("/api/contacts/bulk", {"contacts": nasty.seed, "groupIds": [group["id"]]}).json_body
    assert seeded["errors"] == []
    started = start(caller, {"columns": COLUMNS, "tags": [IMPORT_TAG], "groupIds": [group["id"]]})
    upload(started, nasty.text)
    if arm is not None:
        arm()  # faults start with the worker, after the seeding
    queue.drain(**drain)
    imported: dict[str, Any] = caller.get(f"/api/imports/{started['id']}").json_body
    imported["groupId"] = group["id"]
    return imported


def assert_nasty_result(caller: Caller, nasty: NastyCsv, imported: dict[str, Any]) -> None:
    assert imported["status"] == "completed", imported
    assert counts(imported) == nasty.expected
    assert imported["rowsProcessed"] == nasty.rows
    assert imported["bytesProcessed"] == imported["bytesTotal"] == len(nasty.text.encode())
    errors = caller.walk_pages(f"/api/imports/{imported['id']}/errors?limit=7")
    assert {e["line"]: e["email"] for e in errors} == nasty.error_lines
    assert [e["line"] for e in errors] == sorted(nasty.error_lines)
    assert all(e["field"] == "email" and e["column"] == "E-Mail" for e in errors)
    assert all(e["code"] == "validation_error" for e in errors)
    by_email = {c["email"]: c for c in caller.walk_pages("/api/contacts?limit=100")}
    assert len(by_email) == nasty.rows - nasty.expected["errored"]
    for i in range(nasty.rows):
        if i % 100 == 7:
            continue
        expected = NastyCsv.contact(i)
        stored = by_email[expected["email"]]
        assert stored["firstName"] == expected["firstName"]
        assert stored["company"] == expected["company"]
        assert stored["customFields"] == expected["customFields"]
        assert stored["tags"] == sorted({*expected["tags"], IMPORT_TAG})
        assert stored["groupIds"] == [imported["groupId"]]
        if i % nasty.every == nasty.every // 2:
            assert stored["lastName"] == "Kept"  # an empty cell leaves the stored value alone
        elif i % nasty.every != 0:
            assert stored["source"] == f"import:{imported['id']}"


def test_a_nasty_csv_is_imported_in_chunks_with_exact_counts_lines_and_fields(
    acme: Caller, queue: ImportQueue, small_chunks: None
) -> None:
    nasty = NastyCsv(300, every=4)
    imported = import_nasty(acme, queue, nasty)
    assert_nasty_result(acme, nasty, imported)
    chunk_messages = [body for body in queue.handled if '"kind":"chunk"' in body]
    assert len(chunk_messages) + 1 >= 300 // CHUNK_ROWS  # the first chunk runs on the file's arrival
    assert imported["startedAt"] and imported["finishedAt"] and imported["failure"] is None


def test_every_chunk_message_delivered_twice_counts_each_row_once(
    acme: Caller, queue: ImportQueue, small_chunks: None
) -> None:
    nasty = NastyCsv(300, every=4)
    imported = import_nasty(acme, queue, nasty, duplicate_chunks=True)
    assert len(queue.duplicated) >= 10
    assert_nasty_result(acme, nasty, imported)


def test_a_worker_killed_mid_chunk_neither_loses_nor_double_counts_a_row(
    acme: Caller, queue: ImportQueue, small_chunks: None
) -> None:
    nasty = NastyCsv(300, every=4)
    calls = {"n": 0}
    kill_at = {12, 31, 55}  # BatchWriteItem calls: mid-chunk, between the two write phases of some contacts

    def kill(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] in kill_at:
            raise WorkerKilled

    def arm() -> None:
        aws_client("dynamodb").meta.events.register("before-call.dynamodb.BatchWriteItem", kill)

    imported = import_nasty(acme, queue, nasty, arm)
    assert queue.killed == len(kill_at)
    assert_nasty_result(acme, nasty, imported)


def test_a_worker_dying_between_its_commit_and_the_next_message_does_not_stall_the_import(
    acme: Caller, queue: ImportQueue, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In production the message comes back after the visibility timeout (1800 s), when the job has been
    # idle for longer than a worker can live (900 s); here it comes back at once, so "idle" is lowered to 0.
    monkeypatch.setattr(imports_service, "STALL_SECONDS", 0)
    started = start(acme, {})
    upload(started, "email\n" + "".join(f"s{i}@example.com\n" for i in range(100)))
    sends = {"n": 0}

    def die_on_first_chunk_send(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == queue.url:
            sends["n"] += 1
            if sends["n"] == 1:
                raise WorkerKilled

    aws_client("sqs").meta.events.register("before-parameter-build.sqs.SendMessageBatch", die_on_first_chunk_send)
    queue.drain()
    assert queue.killed == 1
    imported = acme.get(f"/api/imports/{started['id']}").json_body
    assert (imported["status"], imported["created"], imported["rowsProcessed"]) == ("completed", 100, 100)


def test_cancel_before_the_upload_starts_nothing(acme: Caller, queue: ImportQueue) -> None:
    started = start(acme, {})
    cancelled = acme.delete(f"/api/imports/{started['id']}")
    assert cancelled.status_code == 200
    assert cancelled.json_body["status"] == "cancelled"
    upload(started, "email\nlate@example.com\n")
    queue.drain()
    after = acme.get(f"/api/imports/{started['id']}").json_body
    assert (after["status"], after["rowsProcessed"]) == ("cancelled", 0)
    assert acme.get("/api/contacts").json_body["data"] == []


def test_cancel_while_processing_stops_at_the_next_chunk_boundary(
    acme: Caller, queue: ImportQueue, small_chunks: None
) -> None:
    started = start(acme, {})
    upload(started, "email\n" + "".join(f"c{i}@example.com\n" for i in range(200)))
    cancelled: dict[str, Any] = {}

    def cancel_after_first_chunk(body: str) -> None:
        if '"kind":"chunk"' in body and not cancelled:
            cancelled.update(acme.delete(f"/api/imports/{started['id']}").json_body)

    queue.drain(before=cancel_after_first_chunk)
    assert cancelled["status"] == "processing"  # the chunk in flight finishes first
    after = acme.get(f"/api/imports/{started['id']}").json_body
    assert after["status"] == "cancelled"
    assert after["created"] == after["rowsProcessed"] == CHUNK_ROWS
    assert len(acme.walk_pages("/api/contacts?limit=100")) == CHUNK_ROWS


def test_imports_and_their_errors_are_invisible_to_other_tenants(
    acme: Caller, globex: Caller, queue: ImportQueue
) -> None:
    started = start(acme, {})
    upload(started, "email\nnot-an-email\n")
    queue.drain()
    for path in (f"/api/imports/{started['id']}", f"/api/imports/{started['id']}/errors"):
        assert globex.get(path).status_code == 404
    assert globex.delete(f"/api/imports/{started['id']}").status_code == 404
    assert globex.get("/api/imports").json_body == {"data": [], "nextCursor": None}
    assert acme.get(f"/api/imports/{started['id']}/errors").json_body["data"][0]["line"] == 2
    cursor = acme.get("/api/imports?limit=1").json_body
    assert cursor["data"][0]["id"] == started["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"columns": {"Mail": "emial"}}, "columns"),
        ({"columns": {"A": "email", "B": "email"}}, "columns"),
        ({"groupIds": ["grp_nope"]}, "groupIds"),
        ({"fileUrl": "http://169.254.169.254/latest/meta-data"}, "fileUrl"),
        ({"fileUrl": "ftp://files.example.com/a.csv"}, "fileUrl"),
        ({"tags": ["x"], "groupIdsExclude": ["grp_nope"]}, "groupIds"),
    ],
)
def test_a_bad_request_is_a_422_and_starts_nothing(
    acme: Caller, queue: ImportQueue, body: dict[str, Any], field: str
) -> None:
    answer = acme.post("/api/imports", body)
    assert answer.status_code == 422, answer.body
    assert answer.json_body["error"]["code"] == "validation_error"
    assert any(d["field"].startswith(field) for d in answer.json_body["error"]["details"]), answer.json_body
    assert acme.get("/api/imports").json_body["data"] == []
    queue.drain()
    assert [body for body in queue.handled if "s3:TestEvent" not in body] == []
    assert boto3.client("s3").list_objects_v2(Bucket=settings.imports_bucket).get("KeyCount") == 0


def test_a_file_over_the_size_limit_fails_the_import_cleanly(
    acme: Caller, queue: ImportQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    # S3 refuses such an upload by the presigned POST's content-length-range; moto does not, so the worker checks.
    monkeypatch.setattr(imports_service, "MAX_FILE_BYTES", 100)
    started = start(acme, {})
    upload(started, "email\n" + "".join(f"big{i}@example.com\n" for i in range(20)))
    queue.drain()
    failed = acme.get(f"/api/imports/{started['id']}").json_body
    assert failed["status"] == "failed"
    assert failed["failure"]["code"] == "too_large"
    assert (failed["rowsProcessed"], acme.get("/api/contacts").json_body["data"]) == (0, [])


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("Vorname;Nachname\nAda;Lovelace\n", "no_email_column"),
        ("", "empty_file"),
        (b"\x00\x01\x02binary\x00", "not_csv"),
        (b"\xff\xfeE\x00-\x00", "invalid_encoding"),
    ],
)
def test_a_file_that_is_not_what_it_claims_fails_with_a_clear_code(
    acme: Caller, queue: ImportQueue, content: str | bytes, code: str
) -> None:
    started = start(acme, {})
    if content == "":
        boto3.client("s3").put_object(Bucket=settings.imports_bucket, Key=started["upload"]["fields"]["key"], Body=b"")
    else:
        upload(started, content)
    queue.drain()
    failed = acme.get(f"/api/imports/{started['id']}").json_body
    assert (failed["status"], failed["failure"]["code"]) == ("failed", code), failed


def test_a_zip_file_is_refused_as_not_csv(acme: Caller, queue: ImportQueue) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("contacts.csv", "email\na@example.com\n")
    started = start(acme, {})
    upload(started, archive.getvalue())
    queue.drain()
    assert acme.get(f"/api/imports/{started['id']}").json_body["failure"]["code"] == "not_csv"


def test_a_gzipped_ndjson_file_is_recognised_by_content(acme: Caller, queue: ImportQueue, small_chunks: None) -> None:
    lines = [json.dumps({"email": f"n{i}@example.com", "tags": ["nd"]}) for i in range(60)]
    lines[10] = json.dumps({"email": "broken", "firstName": "X"})
    lines[20] = "[1, 2]"
    lines[30] = "{not json"
    lines.insert(40, "")  # a blank line is skipped but counted
    started = start(acme, {"format": "ndjson"})
    upload(started, "\n".join(lines) + "\n", compress=True)
    queue.drain()
    imported = acme.get(f"/api/imports/{started['id']}").json_body
    assert imported["status"] == "completed"
    assert counts(imported) == {"created": 57, "updated": 0, "unchanged": 0, "skipped": 0, "errored": 3}
    assert imported["bytesProcessed"] == imported["bytesTotal"] < len("\n".join(lines))
    errors = acme.get(f"/api/imports/{started['id']}/errors").json_body["data"]
    assert [(e["line"], e.get("field")) for e in errors] == [(11, "email"), (21, None), (31, None)]
    assert all("column" not in e for e in errors)


def test_file_url_is_downloaded_with_basic_auth(acme: Caller, queue: ImportQueue, files: FileServer) -> None:
    files.auth = "crm:s3cret"
    files.files["/export.csv"] = b"email,firstName\nurl@example.com,Url\n"
    started = start(acme, {"fileUrl": files.url("/export.csv", "crm:s3cret")})
    assert (started["status"], started["source"], started.get("upload")) == ("queued", "url", None)
    queue.drain()
    imported = acme.get(f"/api/imports/{started['id']}").json_body
    assert (imported["status"], imported["created"]) == ("completed", 1)
    assert files.requests[0]["authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("path", "code"),
    [("/missing.csv", "download_failed"), ("/to-metadata", "download_refused"), ("/export.csv", "download_failed")],
)
def test_file_url_failures_fail_the_import_clearly(
    acme: Caller, queue: ImportQueue, files: FileServer, path: str, code: str
) -> None:
    files.auth = "crm:s3cret"
    files.files["/export.csv"] = b"email\nx@example.com\n"
    files.redirects["/to-metadata"] = "http://169.254.169.254/latest/meta-data/"
    credentials = "crm:wrong" if path == "/export.csv" else "crm:s3cret"
    started = start(acme, {"fileUrl": files.url(path, credentials)})
    queue.drain()
    failed = acme.get(f"/api/imports/{started['id']}").json_body
    assert (failed["status"], failed["failure"]["code"]) == ("failed", code), failed
    assert acme.get("/api/contacts").json_body["data"] == []


def test_respond_async_bulk_counts_like_the_synchronous_request(acme: Caller, queue: ImportQueue) -> None:
    acme.post("/api/contacts/bulk", {"contacts": [{"email": f"a{i}@example.com"} for i in range(0, 40, 2)]})
    rows: list[Any] = [{"email": f"A{i}@example.com", "company": "Async"} for i in range(40)]
    rows[5] = {"email": "nope"}
    rows[6] = "not an object"
    body = {"contacts": rows, "tags": ["async"]}
    dry = acme.post("/api/contacts/bulk", {**body, "dryRun": True}).json_body
    accepted = acme.post("/api/contacts/bulk", body, headers={"Prefer": "respond-async"})
    assert accepted.status_code == 202
    assert accepted.json_body["status"] == "queued" and accepted.json_body["importId"].startswith("imp_")
    queue.drain()
    imported = acme.get(f"/api/imports/{accepted.json_body['importId']}").json_body
    assert (imported["status"], imported["source"], imported["format"]) == ("completed", "bulk", "ndjson")
    assert counts(imported) == {
        "created": dry["created"],
        "updated": dry["updated"],
        "unchanged": dry["unchanged"],
        "skipped": dry["skipped"],
        "errored": len(dry["errors"]),
    }
    errors = acme.get(f"/api/imports/{imported['id']}/errors").json_body["data"]
    assert [e["line"] - 1 for e in errors] == [e["index"] for e in dry["errors"]]


def test_respond_async_refuses_what_the_synchronous_request_refuses(acme: Caller, queue: ImportQueue) -> None:
    prefer = {"Prefer": "respond-async"}
    too_many = acme.post("/api/contacts/bulk", {"contacts": [{}] * 10_001}, headers=prefer)
    unknown_group = acme.post("/api/contacts/bulk", {"contacts": [], "groupIds": ["grp_x"]}, headers=prefer)
    assert (too_many.status_code, unknown_group.status_code) == (413, 422)
    assert acme.get("/api/imports").json_body["data"] == []


def test_import_completed_reaches_subscribed_webhooks(acme: Caller, queue: ImportQueue) -> None:
    receiver = Receiver().start()
    try:
        hook = acme.post("/api/webhooks", {"url": receiver.url(), "events": ["import.completed"]})
        assert hook.status_code == 201, hook.body
        started = start(acme, {})
        upload(started, "email\nhooked@example.com\n")
        queue.drain()
        consume_events()
        received = [r.json() for r in receiver.wait_for(1)]
        assert [r["type"] for r in received] == ["import.completed"]
        assert received[0]["data"]["id"] == started["id"]
        assert received[0]["data"]["created"] == 1
        assert received[0]["data"]["actor"]["type"] == "apiKey"
    finally:
        receiver.stop()


class RefuseEvents:
    """SQS refusing every entry sent to the events queue for the first `calls` SendMessageBatch calls
    (a fault moto cannot produce), injected with botocore hooks: the request's parameters are noted at
    parameter build, and the call answers every entry Failed instead of reaching moto."""

    def __init__(self, calls: int) -> None:
        self.left = calls
        self.refused = 0
        self.url = aws_client("sqs").get_queue_url(QueueName=settings.events_queue)["QueueUrl"]

    def note(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["test_refuse"] = (params.get("QueueUrl"), [entry["Id"] for entry in params.get("Entries", [])])

    def __call__(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        url, ids = context.get("test_refuse", (None, []))
        if url != self.url or self.left <= 0:
            return None
        self.left -= 1
        self.refused += 1
        failed = [{"Id": i, "SenderFault": False, "Code": "InternalError", "Message": "refused"} for i in ids]
        return AWSResponse(self.url, 200, {}, None), {"Successful": [], "Failed": failed}

    def install(self, sqs: Any) -> None:
        sqs.meta.events.register("before-parameter-build.sqs.SendMessageBatch", self.note, unique_id="test-refuse-1")
        sqs.meta.events.register("before-call.sqs.SendMessageBatch", self, unique_id="test-refuse-2")

    def remove(self, sqs: Any) -> None:
        sqs.meta.events.unregister("before-parameter-build.sqs.SendMessageBatch", unique_id="test-refuse-1")
        sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", unique_id="test-refuse-2")


def events_on_queue() -> list[Any]:
    """Read (and delete) every message of the events queue; answer the events they hold."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.events_queue)["QueueUrl"]
    found: list[Any] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            decoded = events_service.decode_message(message["Body"])
            found.extend(getattr(decoded, "events", []))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_import_completed_is_sent_again_when_sqs_refused_it_after_the_commit(acme: Caller, queue: ImportQueue) -> None:
    receiver = Receiver().start()
    sqs = aws_client("sqs")
    refuse = RefuseEvents(calls=3)  # queues.send tries a batch 3 times: the first send of the event fails
    try:
        hook = acme.post("/api/webhooks", {"url": receiver.url(), "events": ["import.completed"]})
        assert hook.status_code == 201, hook.body
        started = start(acme, {})
        upload(started, "email\nrefused@example.com\n")
        refuse.install(sqs)
        queue.drain(redeliver_failures=True)
        # The worker raised after committing the job; the redelivered message sent the event.
        assert refuse.refused == 3 and queue.failed == 1
        imported = acme.get(f"/api/imports/{started['id']}").json_body
        assert (imported["status"], imported["created"]) == ("completed", 1)
        consume_events()
        received = [r.json() for r in receiver.wait_for(1)]
        assert [(r["type"], r["data"]["id"], r["data"]["created"]) for r in received] == [
            ("import.completed", started["id"], 1)
        ]
        assert received[0]["id"] == imports_service.import_event_id(
            started["id"], "import.completed", imported["finishedAt"]
        )
        # The contact's own event came through the relay as usual; the import event made no timeline entry.
        [contact] = acme.get("/api/contacts").json_body["data"]
        timeline = acme.get(f"/api/contacts/{contact['id']}/activity").json_body["data"]
        assert [entry["type"] for entry in timeline] == ["contact.created"]
    finally:
        refuse.remove(sqs)
        receiver.stop()


def test_a_redelivered_message_of_a_finished_import_sends_the_same_event_delivered_once(
    acme: Caller, queue: ImportQueue
) -> None:
    receiver = Receiver().start()
    try:
        hook = acme.post("/api/webhooks", {"url": receiver.url(), "events": ["import.completed"]})
        assert hook.status_code == 201, hook.body
        started = start(acme, {})
        upload(started, "email\nonce@example.com\n")
        queue.drain()
        first = [e for e in events_on_queue() if e.type.startswith("import.")]
        # The message that finished the job comes back (its deletion was lost, say): same event, same id.
        last = queue.handled[-1]
        boto3.client("sqs").send_message(QueueUrl=queue.url, MessageBody=last)
        queue.drain()
        again = [e for e in events_on_queue() if e.type.startswith("import.")]
        assert len(first) == len(again) == 1 and first[0].id == again[0].id
        assert first[0].model_dump() == again[0].model_dump()
        # Both copies on the events queue: the endpoint gets one delivery.
        for event in (first[0], again[0]):
            events_service.send([event])
        consume_events()
        # consume_events attempts every delivery before it returns: what the receiver has is all it gets.
        received = [r.json() for r in receiver.wait_for(1)]
        assert [r["id"] for r in received] == [first[0].id]
    finally:
        receiver.stop()


def test_an_import_creating_an_email_a_bulk_request_created_meanwhile_updates_that_contact(
    acme: Caller, queue: ImportQueue
) -> None:
    """The chunk read the email as free; a bulk request created it before the chunk held the tenant's
    create lease: the chunk reads and merges again under the lease (docs/bulk.md), so its row updates
    the bulk request's contact, and the import counts what it wrote."""
    others: list[Any] = []

    def other() -> None:
        answer = acme.post("/api/contacts/bulk", {"contacts": [{"email": "new@example.com", "firstName": "First"}]})
        others.append(answer.json_body)

    started = start(acme, {})
    upload(started, "email,company\nnew@example.com,Second\nfresh@example.com,Third\n")
    fired: list[bool] = []

    def once(**_: Any) -> None:  # the chunk's first UpdateItem on the repository's client: taking the lease
        if not fired:
            fired.append(True)
            other()

    with hooked("before-call.dynamodb.UpdateItem", once):
        queue.drain()
    assert fired and others[0]["created"] == 1
    imported = acme.get(f"/api/imports/{started['id']}").json_body
    assert (imported["status"], imported["created"], imported["updated"]) == ("completed", 1, 1), imported
    by_email = {c["email"]: c for c in acme.get("/api/contacts").json_body["data"]}
    assert sorted(by_email) == ["fresh@example.com", "new@example.com"]
    raced = by_email["new@example.com"]
    assert (raced["firstName"], raced["company"], raced["source"]) == ("First", "Second", "bulk")
    assert by_email["fresh@example.com"]["source"] == f"import:{started['id']}"
