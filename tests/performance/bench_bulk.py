"""`make bench`: a 10,000-row bulk upsert (create, then update of every row) through HTTP on the local stack.

Not a pytest test (not collected): a measurement that prints one JSON summary.

- A moto server runs in a process of its own, so that the devstack process holds
  only the API (its memory is the request's) and both the API and the direct
  calls below talk to the same embedded AWS over HTTP.
- The devstack runs with --count-calls: it counts DynamoDB calls by operation
  with a botocore `before-call` hook and reports them on SIGUSR1.
- The relay (stream -> events, search index, counters, feed: another Lambda in production)
  is paused during each timed request (devstack/faults.py) and then drained, as on AWS where
  it runs on other machines; its handler time, SQS calls and records per bulk are reported
  apart, and the request path's own SQS calls (none). Then the same create once more (another
  tenant) with the relay running beside it, as it must on the local stack: the "index on" time.
  Write-to-webhook lag: single creates, a receiver on 127.0.0.1.
- Progress lines on stderr say where a long run is.
- The bare floor (issue 10): 100 BatchGetItem + 400 BatchWriteItem of the same rows'
  contact items on one table, create and update timed apart, on the same server.
- The minimum: what the data model needs for these rows (1 GetItem to
  authenticate each request; BatchGetItem of 100 contacts; BatchWriteItem of 25
  items: a new row writes contact + id pointer + one membership per tag, an
  updated row writes its contact). That very set of calls is then issued directly
  with boto3 on the same number of threads, and timed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from devstack.coldstart import measure as measure_cold_start
from tests.stack import ROOT, HttpCaller, Stack, create_tenant, free_port, start_stack

ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
TAG = "crm-sync:2026-05-14"
CONCURRENCY = 8  # chalicelib.repository.batch.CONCURRENCY
AWS_CALL_MS = 8
TARGETS = {
    "callsRatio": 1.10,
    "timeRatio": 1.5,
    "requestPeakMB": 256,
    "projectedAwsSeconds": 5.0,
    "importAppMs": 400,
    "coldStartRatio": 1.25,  # import app / import of its dependencies
}


def rows(company: str) -> list[dict[str, Any]]:
    return [
        {
            "email": f"user{i:05d}@bench.example.com",
            "firstName": f"First{i}",
            "lastName": f"Last{i}",
            "company": company,
            "externalId": None,
            "customFields": {"plan": "starter", "seats": i % 50},
        }
        for i in range(ROWS)
    ]


# moto's server with the devstack's patches (devstack/moto_patches.py): unpatched, moto
# backs up every table a transaction touches, item by item, and the relay's counters write in transactions;
# a run without them grew the server to 15 GB and did not drain the relay in 10 minutes.
PATCHED_MOTO_SERVER = (
    "import sys; from devstack import moto_patches; moto_patches.install(); "
    "from moto.server import main; main(sys.argv[1:])"
)


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", PATCHED_MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(url + "/moto-api/", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")


def progress(step: str, **figures: Any) -> None:
    """A line on stderr per step (a long run on a loaded machine shows where it is, and what it measured so far)."""
    line = {"step": step, "at": time.strftime("%X"), "load": os.getloadavg(), **figures}
    print(json.dumps(line), file=sys.stderr, flush=True)


def report(stack: Stack) -> dict[str, Any]:
    """Ask the devstack for its counts since the last report (one JSON line on its output)."""
    seen = len(stack.output)
    stack.process.send_signal(signal.SIGUSR1)
    for _ in range(600):  # the consumer may be busy with the last request's events: allow it 30 s
        for line in stack.output[seen:]:
            if line.startswith('{"dynamodbCalls"'):
                result: dict[str, Any] = json.loads(line)
                return result
        time.sleep(0.05)
    raise RuntimeError("the devstack did not report its counts; its last output:\n" + "".join(stack.output[-20:]))


def wait_for_consumer(aws: str, timeout: float = 180.0) -> float:
    """Wait until the events queue is empty, answer how long that took.

    In production the consumer (activity timeline, webhooks) is another Lambda; in the devstack
    it shares the API's process, so each request is measured without the previous one's
    consumer competing for the same interpreter.
    """
    import boto3

    sqs = boto3.client(
        "sqs", endpoint_url=aws, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    url = sqs.get_queue_url(QueueName="fli-dev-events")["QueueUrl"]
    names = [f"ApproximateNumberOfMessages{state}" for state in ("", "NotVisible", "Delayed")]
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if sum(int(counts.get(name, 0)) for name in names) == 0:
            break
        time.sleep(0.2)
    return time.perf_counter() - started


def drain_relay(stack: Stack, aws: str, expected_records: int, timeout: float = 600.0) -> dict[str, Any]:
    """Wait until the relay has handed on `expected_records` stream records and the events queue is empty;
    answer the relay's and the workers' counts meanwhile (summed over the reports it took)."""
    total: dict[str, Any] = {"relay": Counter(), "relaySqsCalls": Counter(), "workerSqsCalls": Counter()}
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        found = report(stack)
        total["relay"].update({k: v for k, v in found["relay"].items()})
        total["relaySqsCalls"].update(found.get("relaySqsCalls", {}))
        total["workerSqsCalls"].update(found.get("workerSqsCalls", {}))
        if total["relay"]["records"] >= expected_records:
            break
        progress("relay", records=total["relay"]["records"], of=expected_records, failures=total["relay"]["failures"])
        time.sleep(1.0)
    total["consumerSeconds"] = wait_for_consumer(aws)
    total["seconds"] = time.perf_counter() - started
    return total


def measure_lag(stack: Stack, caller: HttpCaller, count: int = 30) -> dict[str, float]:
    """Write -> webhook: single creates 0.3 s apart, each timed from its 201 to its delivery."""
    from tests.receiver import Receiver

    receiver = Receiver().start()
    try:
        hook = caller.post("/api/webhooks", json={"url": receiver.url(), "events": ["contact.created"]})
        hook.raise_for_status()
        answered: dict[str, float] = {}
        for i in range(count):
            created = caller.post("/api/contacts", json={"email": f"lag{i}-{uuid.uuid4().hex[:6]}@bench.example.com"})
            answered[created.json()["id"]] = time.perf_counter()
            time.sleep(0.3)
        deadline = time.perf_counter() + 60
        while len(receiver.received) < count and time.perf_counter() < deadline:
            time.sleep(0.05)
        arrived = {r.json()["data"]["contact"]["id"]: r.at for r in receiver.received}
    finally:
        receiver.stop()
    lags = sorted(arrived[c] - answered[c] for c in arrived if c in answered)
    return {
        "count": len(lags),
        "p50Seconds": round(lags[len(lags) // 2], 3) if lags else -1,
        "maxSeconds": round(lags[-1], 3) if lags else -1,
    }


def bare_floor(aws: str) -> dict[str, float]:
    """100 BatchGetItem + 400 BatchWriteItem of the rows' contact items on one table: create, then update."""
    import boto3
    from botocore.config import Config

    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=aws,
        region_name="us-east-1",
        aws_access_key_id="devstack",
        aws_secret_access_key="devstack",
        config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
    )
    table, tenant = "fli-dev-contacts", "tnt_floor_" + uuid.uuid4().hex
    keys = [{"tenantId": {"S": tenant}, "email": {"S": f"user{i:05d}@bench.example.com"}} for i in range(ROWS)]

    def item(i: int, company: str) -> dict[str, Any]:
        return {
            **keys[i],
            "id": {"S": str(uuid.UUID(int=i))},
            "firstName": {"S": f"First{i}"},
            "lastName": {"S": f"Last{i}"},
            "company": {"S": company},
            "customFields": {"S": json.dumps({"plan": "starter", "seats": i % 50})},
        }

    def one_pass(company: str) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            gets = [keys[i : i + 100] for i in range(0, ROWS, 100)]
            list(pool.map(lambda c: dynamodb.batch_get_item(RequestItems={table: {"Keys": c}}), gets))
            puts = [
                [{"PutRequest": {"Item": item(i, company)}} for i in range(j, min(j + 25, ROWS))]
                for j in range(0, ROWS, 25)
            ]
            list(pool.map(lambda c: dynamodb.batch_write_item(RequestItems={table: c}), puts))
        return time.perf_counter() - started

    return {"createSeconds": round(one_pass("Acme"), 2), "updateSeconds": round(one_pass("Acme Corp"), 2)}


def timed_bulk(caller: HttpCaller, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = caller.post("/api/contacts/bulk", json=body, timeout=300)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return elapsed, answer


def minimum_calls(rows_created: int, rows_updated: int, tags: int) -> Counter[str]:
    gets_per_request = math.ceil(ROWS / 100)
    return Counter(
        {
            "GetItem": 2,
            "BatchGetItem": 2 * gets_per_request,
            "BatchWriteItem": math.ceil(rows_created * (2 + tags) / 25) + math.ceil(rows_updated / 25),
        }
    )


def fresh_tables(aws: str) -> dict[str, str]:
    """Empty the moto server and create the tables again, so the direct run starts where the API run started."""
    import boto3

    from devstack.resources import create_tables, stage_environment

    requests.post(aws + "/moto-api/reset", timeout=30).raise_for_status()
    env = stage_environment("dev")
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=aws, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    create_tables(dynamodb)
    return {
        "contacts": env["CONTACTS_TABLE"],
        "keys": env["CONTACT_KEYS_TABLE"],
        "memberships": env["MEMBERSHIPS_TABLE"],
        "meta": env["META_TABLE"],
    }


def direct_minimum(aws: str, tables: dict[str, str]) -> float:
    """Issue the minimum set of calls for the same rows with boto3 directly (another tenant), timed."""
    import boto3
    from botocore.config import Config

    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=aws,
        region_name="us-east-1",
        aws_access_key_id="devstack",
        aws_secret_access_key="devstack",
        config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
    )
    tenant = "tnt_direct_" + uuid.uuid4().hex
    now = "2026-05-14T02:00:00.000Z"

    def contact(i: int, company: str, version: int) -> dict[str, Any]:
        return {
            "tenantId": {"S": tenant},
            "email": {"S": f"user{i:05d}@bench.example.com"},
            "id": {"S": str(uuid.UUID(int=i))},
            "firstName": {"S": f"First{i}"},
            "lastName": {"S": f"Last{i}"},
            "company": {"S": company},
            "subscription": {"S": "unconfirmed"},
            "source": {"S": "bulk"},
            "tags": {"SS": [TAG]},
            "customFields": {"S": json.dumps({"plan": "starter", "seats": i % 50})},
            "createdAt": {"S": now},
            "updatedAt": {"S": now},
            "version": {"N": str(version)},
        }

    def pointer(i: int) -> dict[str, Any]:
        email = f"user{i:05d}@bench.example.com"
        return {
            "tenantId": {"S": tenant},
            "key": {"S": f"id#{uuid.UUID(int=i)}"},
            "email": {"S": email},
            "id": {"S": "x"},
        }

    def membership(i: int) -> dict[str, Any]:
        email = f"user{i:05d}@bench.example.com"
        return {"pk": {"S": f"{tenant}#tag#{TAG}"}, "sk": {"S": email}, "id": {"S": str(uuid.UUID(int=i))}}

    def get_all() -> None:
        keys = [{"tenantId": {"S": tenant}, "email": {"S": f"user{i:05d}@bench.example.com"}} for i in range(ROWS)]
        chunks = [keys[i : i + 100] for i in range(0, len(keys), 100)]
        run(
            lambda c: dynamodb.batch_get_item(RequestItems={tables["contacts"]: {"Keys": c, "ConsistentRead": True}}),
            chunks,
        )

    def write_all(requests_: list[tuple[str, dict[str, Any]]]) -> None:
        chunks = [requests_[i : i + 25] for i in range(0, len(requests_), 25)]

        def write(chunk: Sequence[tuple[str, dict[str, Any]]]) -> None:
            grouped: dict[str, list[dict[str, Any]]] = {}
            for table, item in chunk:
                grouped.setdefault(table, []).append({"PutRequest": {"Item": item}})
            dynamodb.batch_write_item(RequestItems=grouped)

        run(write, chunks)

    def run(call: Callable[[Any], Any], chunks: list[Any]) -> None:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(call, chunks))

    key = {"pk": {"S": "KEYHASH#none"}, "sk": {"S": "KEYHASH"}}
    started = time.perf_counter()
    dynamodb.get_item(TableName=tables["meta"], Key=key, ConsistentRead=True)
    get_all()
    created: list[tuple[str, dict[str, Any]]] = []
    for i in range(ROWS):
        created += [
            (tables["contacts"], contact(i, "Acme", 1)),
            (tables["keys"], pointer(i)),
            (tables["memberships"], membership(i)),
        ]
    write_all(created)
    dynamodb.get_item(TableName=tables["meta"], Key=key, ConsistentRead=True)
    get_all()
    write_all([(tables["contacts"], contact(i, "Acme Corp", 2)) for i in range(ROWS)])
    return time.perf_counter() - started


def set_relay(stack: Stack, state: str) -> None:
    """Pause or run the stack's relay (devstack/faults.py): on AWS it is another Lambda on other machines."""
    requests.post(stack.ready["faults"], json={"relay": state}, timeout=10).raise_for_status()


def bulk_alone(stack: Stack, aws: str, caller: HttpCaller, body: dict[str, Any]) -> tuple[float, dict[str, Any], Any]:
    """One bulk request with the relay paused, its counts, then the relay's catch-up on what it wrote."""
    set_relay(stack, "pause")
    try:
        seconds, answer = timed_bulk(caller, body)
        counts = report(stack)
    finally:
        set_relay(stack, "run")
    progress("relay", seconds=round(seconds, 2), unprocessed=len(answer["errors"]))
    # One stream record per contact written; rows answered `unprocessed` (the 29 s ran out) wrote none.
    drained = drain_relay(stack, aws, answer["created"] + answer["updated"] - counts["relay"]["records"])
    return seconds, answer, (counts, drained)


def main() -> int:
    moto, aws = start_moto()
    stack = start_stack(args=["--count-calls", "--fault-port", str(free_port())], aws_endpoint=aws)
    try:
        caller = HttpCaller(stack.api, create_tenant(stack, "Bench")["apiKey"])
        baseline = report(stack)
        progress("create", rows=ROWS)
        create_seconds, created, (after_create, drained_create) = bulk_alone(
            stack, aws, caller, {"contacts": rows("Acme"), "tags": [TAG]}
        )
        progress("update", relayDrainSeconds=round(drained_create["seconds"], 1))
        update_seconds, updated, (after_update, drained_update) = bulk_alone(
            stack, aws, caller, {"contacts": rows("Acme Corp"), "tags": [TAG]}
        )
        relayed = [drained_create, drained_update]
        consumer_seconds = [r["consumerSeconds"] for r in relayed]
        # The same create again (another tenant) while the relay works beside it, as it must on the local
        # stack: the search index, counters, feed and events consumers share the API's process and moto.
        progress("createWithRelayRunning", relayDrainSeconds=round(drained_update["seconds"], 1))
        other = HttpCaller(stack.api, create_tenant(stack, "Bench relay running")["apiKey"])
        running_seconds, running = timed_bulk(other, {"contacts": rows("Acme"), "tags": [TAG]})
        relayed_meanwhile = report(stack)["relay"]["records"]
        running_drained = drain_relay(stack, aws, running["created"] + running["updated"] - relayed_meanwhile)
        progress("lag", relayDrainSeconds=round(running_drained["seconds"], 1))
        lag = measure_lag(stack, caller)
    finally:
        stack.stop()
    progress("floor")
    floor = bare_floor(aws)
    try:
        tables = {
            "contacts": "fli-dev-contacts",
            "keys": "fli-dev-contact-keys",
            "memberships": "fli-dev-memberships",
            "meta": "fli-dev-meta",
        }
        progress("direct")
        direct_seconds = direct_minimum(aws, tables)
    finally:
        moto.terminate()
        try:
            moto.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a loaded machine: the summary matters more than a clean exit
            moto.kill()
            moto.wait()

    calls = Counter(after_create["dynamodbCalls"]) + Counter(after_update["dynamodbCalls"])
    # The event consumer (activity timeline, webhooks) is another Lambda in production: reported apart.
    worker_calls = Counter(after_create.get("workerDynamodbCalls", {})) + Counter(
        after_update.get("workerDynamodbCalls", {})
    )
    minimum = minimum_calls(created["created"], updated["updated"], tags=1)
    total_calls, total_minimum = sum(calls.values()), sum(minimum.values())
    seconds = create_seconds + update_seconds
    peak = max(after_create["maxRssMB"], after_update["maxRssMB"])
    summary = {
        "rows": ROWS,
        "seconds": round(seconds, 2),
        "rowsPerSecond": round(2 * ROWS / seconds),
        "create": {"seconds": round(create_seconds, 2), **{k: created[k] for k in ("created", "updated", "unchanged")}},
        "update": {"seconds": round(update_seconds, 2), **{k: updated[k] for k in ("created", "updated", "unchanged")}},
        "errors": len(created["errors"]) + len(updated["errors"]),
        "callsByOperation": dict(sorted(calls.items())),
        "minimumCalls": dict(sorted(minimum.items())),
        "calls": total_calls,
        "consumerCallsMeanwhile": dict(sorted(worker_calls.items())),
        "consumerCatchUpSeconds": [round(value, 1) for value in consumer_seconds],
        "minimum": total_minimum,
        "callsRatio": round(total_calls / total_minimum, 3),
        "directSeconds": round(direct_seconds, 2),
        "timeRatio": round(seconds / direct_seconds, 2),
        # The devstack process holds the API only (moto runs apart). The request's peak is the growth of its
        # peak RSS over the idle process; the process itself (Chalice's local server, CLI, ...) is reported too.
        "requestPeakMB": round(peak - baseline["maxRssMB"], 1),
        "processPeakMB": peak,
        "concurrency": CONCURRENCY,
        # Issue 10: the request path sends nothing; the relay (another Lambda) turns the stream into events.
        "requestSqsCalls": dict(Counter(after_create.get("sqsCalls", {})) + Counter(after_update.get("sqsCalls", {}))),
        "relay": [
            {
                "records": after["relay"]["records"] + r["relay"]["records"],
                "handlerSeconds": round(after["relay"]["seconds"] + r["relay"]["seconds"], 2),
                "batches": after["relay"]["batches"] + r["relay"]["batches"],
                "failures": after["relay"]["failures"] + r["relay"]["failures"],
                "sqsCalls": dict(Counter(after.get("relaySqsCalls", {})) + r["relaySqsCalls"]),
                "drainedSecondsAfterAnswer": round(r["seconds"], 1),
            }
            for after, r in ((after_create, relayed[0]), (after_update, relayed[1]))
        ],
        "createWithRelayRunning": {
            "seconds": round(running_seconds, 2),
            "vsRelayPaused": round(running_seconds / create_seconds, 2),
            **{k: running[k] for k in ("created", "updated", "unchanged")},
            "unprocessed": len(running["errors"]),
            "relayDrainedSecondsAfterAnswer": round(running_drained["seconds"], 1),
        },
        "writeToWebhookLag": lag,
        "bareFloor": floor,
        "floorRatio": {
            "create": round(create_seconds / floor["createSeconds"], 2),
            "update": round(update_seconds / floor["updateSeconds"], 2),
        },
        "loadAverage": os.getloadavg(),
        "projectedAwsSeconds": round(total_calls * AWS_CALL_MS / 1000 / CONCURRENCY, 2),
    }
    # Cold start: `import app` in fresh processes, against the import of its dependencies alone.
    summary["coldStart"] = measure_cold_start(5)
    summary["importAppMs"] = summary["coldStart"]["importAppMs"]
    summary["coldStartRatio"] = summary["coldStart"]["ratio"]
    summary["targetsMet"] = {name: summary[name] <= limit for name, limit in TARGETS.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
