"""Imports over real HTTP on the local stack: a 50,000-row CSV uploaded with the presigned POST, fileUrl,
and Prefer: respond-async bulk. The stack runs chunks of IMPORT_CHUNK_ROWS rows (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import own_stack
from tests.import_files import COLUMNS, IMPORT_TAG, FileServer, NastyCsv
from tests.stack import ROOT, HttpCaller, Stack, create_tenant

pytestmark = pytest.mark.e2e

CHUNK_ROWS = int(os.environ["IMPORT_CHUNK_ROWS"])
# The issue asks for 50,000 rows; a loaded machine may run fewer (E2E_IMPORT_ROWS=5000 IMPORT_CHUNK_ROWS=500):
# still 10 or more chunks, the same checks.
ROWS = int(os.environ.get("E2E_IMPORT_ROWS", "50000"))


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Its own stack: 50,000 imported rows are 50,000 stream records for the relay (see own_stack)."""
    yield from own_stack()


@pytest.fixture(scope="module")
def importer(stack: Stack) -> HttpCaller:
    """A tenant of its own: these tests count every contact of the tenant."""
    return HttpCaller(stack.api, create_tenant(stack, "Importer")["apiKey"])


@pytest.fixture
def files() -> Iterator[FileServer]:
    server = FileServer().start()
    yield server
    server.stop()


def wait_until_ended(caller: HttpCaller, import_id: str, timeout: float = 600) -> tuple[dict[str, Any], list[int]]:
    """Poll the import until it ends; answer it and every rowsProcessed seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current: dict[str, Any] = caller.get(f"/api/imports/{import_id}").json()
        seen.append(current["rowsProcessed"])
        if current["status"] in ("completed", "failed", "cancelled"):
            return current, seen
        time.sleep(0.5)
    raise AssertionError(f"import {import_id} did not end: {current}")


def seed(caller: HttpCaller, rows: list[dict[str, Any]], **options: Any) -> None:
    """Existing contacts, 1,000 rows a request (a shared, loaded machine must not hit the 29 s limit)."""
    for start in range(0, len(rows), 1000):
        answer = caller.post(
            "/api/contacts/bulk", json={"contacts": rows[start : start + 1000], **options}, timeout=120
        )
        assert answer.status_code == 200 and answer.json()["errors"] == [], answer.text[:500]


def walk(caller: HttpCaller, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = caller.get(path + (f"&cursor={cursor}" if cursor else ""), timeout=60).json()
        found.extend(page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            return found


@pytest.mark.timeout(2400)  # about 2 minutes on an idle 2-core machine; 20 when six engineers share it
def test_a_50000_row_csv_uploaded_with_the_presigned_post_imports_exactly(importer: HttpCaller) -> None:
    nasty = NastyCsv(ROWS, every=20)
    group = importer.post("/api/groups", json={"name": "Imported"}).json()
    seed(importer, nasty.seed, groupIds=[group["id"]])

    body = {"columns": COLUMNS, "tags": [IMPORT_TAG], "groupIds": [group["id"]]}
    started = importer.post("/api/imports", json=body)
    assert started.status_code == 202, started.text
    form = started.json()["upload"]
    # What `curl -F key=... -F policy=... -F file=@contacts.csv URL` sends.
    uploaded = requests.post(form["url"], data=form["fields"], files={"file": nasty.text.encode()}, timeout=120)
    assert uploaded.status_code in (200, 204), uploaded.text

    imported, seen = wait_until_ended(importer, started.json()["id"], timeout=1800)
    assert imported["status"] == "completed", imported
    assert {k: imported[k] for k in nasty.expected} == nasty.expected
    assert imported["rowsProcessed"] == ROWS
    assert imported["bytesProcessed"] == imported["bytesTotal"] == len(nasty.text.encode())
    # Progress moves a whole chunk at a time: the rows are 10 or more chunks.
    assert ROWS // CHUNK_ROWS >= 10
    assert all(rows % CHUNK_ROWS == 0 for rows in seen)

    errors = walk(importer, f"/api/imports/{imported['id']}/errors?limit=100")
    assert {e["line"]: e["email"] for e in errors} == nasty.error_lines
    assert [e["line"] for e in errors] == sorted(nasty.error_lines)
    assert {(e["code"], e["field"], e["column"]) for e in errors} == {("validation_error", "email", "E-Mail")}

    # Field by field, without walking 47,500 contacts: a dryRun of the expected state of every 25th row
    # answers "unchanged" for each (nothing would change), and the rows that failed were never created.
    sample = [i for i in range(0, ROWS, 25) if i % 100 != 7]
    expected_rows = [{**NastyCsv.contact(i), **({"lastName": "Kept"} if i % 20 == 10 else {})} for i in sample]
    check = {"contacts": expected_rows, "tags": [IMPORT_TAG], "groupIds": [group["id"]], "dryRun": True}
    checked = importer.post("/api/contacts/bulk", json={**check, "returnResults": True}, timeout=120).json()
    assert {r["action"] for r in checked["results"]} == {"unchanged"}, checked["errors"][:3]
    failed_rows = [{"email": f"user{i:06d}@example.com"} for i in range(7, ROWS, 100)]
    never = importer.post("/api/contacts/bulk", json={"contacts": failed_rows, "dryRun": True}, timeout=120).json()
    assert never["created"] == len(failed_rows)
    for result, i in list(zip(checked["results"], sample, strict=True))[::200]:  # and exactly, for some
        stored = importer.get(f"/api/contacts/{result['id']}").json()
        expected = NastyCsv.contact(i)
        assert stored["tags"] == sorted({*expected["tags"], IMPORT_TAG})
        assert stored["groupIds"] == [group["id"]]
        assert (stored["firstName"], stored["company"]) == (expected["firstName"], expected["company"])
        if i % 20 not in (0, 10):
            assert stored["source"] == f"import:{imported['id']}"


def test_file_url_with_basic_auth_over_http_and_refusals(importer: HttpCaller, files: FileServer) -> None:
    files.auth = "crm:s3cret"
    files.files["/export.csv"] = b"email\tfirstName\nfetched@example.com\tFetched\n"
    started = importer.post("/api/imports", json={"fileUrl": files.url("/export.csv", "crm:s3cret")}).json()
    imported, _ = wait_until_ended(importer, started["id"], timeout=60)
    assert (imported["status"], imported["created"], imported["source"]) == ("completed", 1, "url")

    missing = importer.post("/api/imports", json={"fileUrl": files.url("/gone.csv", "crm:s3cret")}).json()
    failed, _ = wait_until_ended(importer, missing["id"], timeout=60)
    assert failed["failure"]["code"] == "download_failed"
    assert "404" in failed["failure"]["message"]

    metadata = importer.post("/api/imports", json={"fileUrl": "http://169.254.169.254/latest/meta-data/"})
    assert metadata.status_code == 422
    assert metadata.json()["error"]["details"][0]["field"] == "fileUrl"


@pytest.mark.timeout(900)
def test_respond_async_bulk_of_10000_rows_answers_202_then_counts_like_the_synchronous_request(
    stack: Stack,
) -> None:
    caller = HttpCaller(stack.api, create_tenant(stack, "Async")["apiKey"])
    existing = [{"email": f"async{i:05d}@example.com", "firstName": "Old"} for i in range(0, 10_000, 4)]
    seed(caller, existing)
    rows: list[Any] = [{"email": f"ASYNC{i:05d}@example.com", "company": "Async"} for i in range(10_000)]
    for i in range(3, 10_000, 500):
        rows[i] = {"email": f"broken-{i}"}
    body = {"contacts": rows, "tags": ["async"]}
    dry = caller.post("/api/contacts/bulk", json={**body, "dryRun": True}, timeout=120).json()

    accepted = caller.post("/api/contacts/bulk", json=body, headers={"Prefer": "respond-async"}, timeout=30)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "queued"
    imported, _ = wait_until_ended(caller, accepted.json()["importId"], timeout=300)
    assert imported["status"] == "completed"
    counted = {k: imported[k] for k in ("created", "updated", "unchanged", "skipped")}
    assert counted == {k: dry[k] for k in counted}
    assert imported["errored"] == len(dry["errors"]) == 20
    errors = walk(caller, f"/api/imports/{imported['id']}/errors?limit=100")
    assert [e["line"] - 1 for e in errors] == [e["index"] for e in dry["errors"]]


def test_the_example_client_uploads_follows_and_reports(stack: Stack, tmp_path: Path) -> None:
    key = create_tenant(stack, "Client")["apiKey"]
    path = tmp_path / "contacts.csv"
    path.write_text("E-Mail,Labels\nclient1@example.com,a|b\nnot-an-email,\nclient2@example.com,\n")
    command = [sys.executable, "-m", "examples.import_file", str(path), "--api", stack.api, "--key", key]
    done = subprocess.run(
        [*command, "--every", "0.3", "--columns", '{"E-Mail": "email", "Labels": "tags"}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    assert (summary["status"], summary["created"], summary["errored"]) == ("completed", 2, 1)
    assert "line 3, column E-Mail: validation_error" in done.stdout
