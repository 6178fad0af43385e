"""`make bench-import`: a large CSV imported on the local stack, against the synchronous bulk endpoint.

Not a pytest test (not collected): a measurement that prints one JSON summary.

- moto runs in a process of its own; the devstack runs with --count-calls (DynamoDB calls by
  operation, the import worker's counted apart) and --no-event-consumer (in production the
  event consumer is another Lambda: it would otherwise compete with the worker for this process).
- BENCH_IMPORT_ROWS rows (default 200,000; the issue's goal is 1,000,000, which needs ~1 h on a
  2-core machine with moto) of new contacts with the fields of `make bench`, uploaded with the
  presigned POST; timed from the POST /api/imports to `completed`.
- Then the same kind of rows through the synchronous bulk endpoint, BENCH_BULK_REQUESTS x BENCH_BULK_ROWS
  rows, on the same stack, for the time and call ratios per 10,000 rows.
- The devstack's peak RSS growth during the import is the worker's (the API is idle meanwhile).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from tests.performance.bench_bulk import CONCURRENCY, report, start_moto, timed_bulk
from tests.stack import HttpCaller, create_tenant, start_stack

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "200000"))
BULK_REQUESTS = int(os.environ.get("BENCH_BULK_REQUESTS", "2"))
# Rows per synchronous request: 10,000 as a CRM sends them; fewer on a loaded machine, where 10,000 rows
# do not fit the API's 29 s (the rows come back `unprocessed` and the reference would be void).
BULK_ROWS = int(os.environ.get("BENCH_BULK_ROWS", "10000"))
CHUNK_ROWS = int(os.environ.get("IMPORT_CHUNK_ROWS", "10000"))
TAG = "import:bench"
AWS_CALL_MS = 8
TARGETS = {"timeRatio": 1.2, "workerPeakMB": 256, "projectedAwsMinutesFor1M": 30}


def write_csv(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,firstName,lastName,company,customFields.plan,customFields.seats\r\n")
        for i in range(rows):
            out.write(f"user{i:07d}@import.example.com,First{i},Last{i},Acme,starter,{i % 50}\r\n")
    return path.stat().st_size


def bulk_rows(start: int) -> list[dict[str, Any]]:
    return [
        {
            "email": f"user{i:07d}@bulk.example.com",
            "firstName": f"First{i}",
            "lastName": f"Last{i}",
            "company": "Acme",
            "customFields": {"plan": "starter", "seats": str(i % 50)},
        }
        for i in range(start, start + BULK_ROWS)
    ]


def run_import(caller: HttpCaller, path: Path) -> tuple[float, float, dict[str, Any], list[tuple[float, int]]]:
    started = time.perf_counter()
    answer = caller.post("/api/imports", json={"tags": [TAG]})
    answer.raise_for_status()
    job = answer.json()
    form = job["upload"]
    with path.open("rb") as file:
        uploaded = requests.post(form["url"], data=form["fields"], files={"file": (path.name, file)}, timeout=3600)
    uploaded.raise_for_status()
    upload_seconds = time.perf_counter() - started
    progress: list[tuple[float, int]] = []
    while True:
        current: dict[str, Any] = caller.get(f"/api/imports/{job['id']}").json()
        progress.append((round(time.perf_counter() - started, 1), current["rowsProcessed"]))
        if current["status"] in ("completed", "failed", "cancelled"):
            return time.perf_counter() - started, upload_seconds, current, progress
        time.sleep(1)


def main() -> int:
    moto, aws = start_moto()
    stack = start_stack(args=["--count-calls", "--no-event-consumer"], aws_endpoint=aws, timeout=120)
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "contacts.csv"
            file_bytes = write_csv(path, ROWS)
            importer = HttpCaller(stack.api, create_tenant(stack, "Import bench")["apiKey"])
            baseline = report(stack)
            import_seconds, upload_seconds, imported, progress = run_import(importer, path)
            after_import = report(stack)
        bulk_caller = HttpCaller(stack.api, create_tenant(stack, "Bulk bench")["apiKey"])
        report(stack)
        bulk_seconds = 0.0
        bulk_created = bulk_errors = 0
        for n in range(BULK_REQUESTS):
            seconds, answer = timed_bulk(bulk_caller, {"contacts": bulk_rows(n * BULK_ROWS), "tags": [TAG]})
            bulk_seconds += seconds
            bulk_created += answer["created"]
            bulk_errors += len(answer["errors"])
        after_bulk = report(stack)
    finally:
        stack.stop()
        moto.terminate()
        try:
            moto.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a moto holding a large table may take long to exit
            moto.kill()

    import_calls = Counter(after_import["importDynamodbCalls"])
    bulk_calls = Counter(after_bulk["dynamodbCalls"])
    per_10k_import = import_seconds / ROWS * 10_000
    per_10k_bulk = bulk_seconds / (BULK_REQUESTS * BULK_ROWS) * 10_000
    import_calls_per_10k = sum(import_calls.values()) / ROWS * 10_000
    bulk_calls_per_10k = sum(bulk_calls.values()) / (BULK_REQUESTS * BULK_ROWS) * 10_000
    projected_1m_seconds = import_calls_per_10k * 100 * AWS_CALL_MS / 1000 / CONCURRENCY
    summary: dict[str, Any] = {
        "rows": ROWS,
        "fileMB": round(file_bytes / 2**20, 1),
        "status": imported["status"],
        "counts": {k: imported[k] for k in ("created", "updated", "unchanged", "skipped", "errored")},
        "seconds": round(import_seconds, 1),
        "uploadSeconds": round(upload_seconds, 1),
        "rowsPerSecond": round(ROWS / import_seconds),
        "chunks": math.ceil(ROWS / CHUNK_ROWS),
        "progress": progress[:: max(1, len(progress) // 20)],
        "workerPeakMB": round(after_import["maxRssMB"] - baseline["maxRssMB"], 1),
        "processPeakMB": after_import["maxRssMB"],
        "importCallsByOperation": dict(sorted(import_calls.items())),
        "importCallsPer10k": round(import_calls_per_10k, 1),
        "bulk": {
            "rows": BULK_REQUESTS * BULK_ROWS,
            "created": bulk_created,
            "errors": bulk_errors,  # must be 0: unprocessed rows would make the reference void
            "seconds": round(bulk_seconds, 1),
            "callsByOperation": dict(sorted(bulk_calls.items())),
            "callsPer10k": round(bulk_calls_per_10k, 1),
        },
        "secondsPer10k": round(per_10k_import, 2),
        "bulkSecondsPer10k": round(per_10k_bulk, 2),
        "timeRatio": round(per_10k_import / per_10k_bulk, 2),
        "callsRatio": round(import_calls_per_10k / bulk_calls_per_10k, 3),
        "projectedAwsMinutesFor1M": round(projected_1m_seconds / 60, 1),
        "loadAverage": os.getloadavg(),
    }
    summary["targetsMet"] = {name: summary[name] <= limit for name, limit in TARGETS.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
