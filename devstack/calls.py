"""Opt-in accounting for `make bench`: DynamoDB calls by operation and peak memory of this process.

`python -m devstack --count-calls` registers a `before-call.dynamodb` hook on
every botocore client the service uses (the repository's boto3 client and each
PynamoDB connection's own client), and a `before-call.sqs` hook on its SQS client.
On SIGUSR1 the process prints one JSON line
`{"dynamodbCalls": {...}, "workerDynamodbCalls": {...}, "relayDynamodbCalls": {...},
"sqsCalls": {...}, "workerSqsCalls": {...}, "relaySqsCalls": {...},
"relay": {"batches", "records", "seconds"}, "maxRssMB": ..., "rssMB": ...}`
and starts counting afresh, so a benchmark can read the calls of each request it
made; calls of the event consumer and the schedule (worker) and of the stream
relay (other Lambda functions in production) are counted apart, by the thread
that makes them.
"""

from __future__ import annotations

import json
import resource
import threading
from collections import Counter
from typing import Any

WORKER = "worker"
RELAY = "relay"
_thread_start = threading.Thread.start


def _start_inheriting_role(self: threading.Thread) -> None:
    """A thread takes the role of the thread that starts it (pools started by a worker are workers)."""
    self.devstack_role = getattr(threading.current_thread(), "devstack_role", None)  # type: ignore[attr-defined]
    _thread_start(self)


def mark_worker(role: str = WORKER) -> None:
    """Called by the SQS pollers, the schedule timer (WORKER) and the stream pump (RELAY): their calls
    (and their pools') are not the API's."""
    threading.current_thread().devstack_role = role  # type: ignore[attr-defined]


def current_role() -> str | None:
    return getattr(threading.current_thread(), "devstack_role", None)


class RelayStats:
    """What the stream pump did since the last report: handler calls, records, seconds inside the handler."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches = 0
        self.records = 0
        self.seconds = 0.0
        self.failures = 0

    def add(self, records: int, seconds: float, failed: bool) -> None:
        with self.lock:
            self.batches += 1
            self.records += records
            self.seconds += seconds
            self.failures += int(failed)

    def report_and_reset(self) -> dict[str, Any]:
        with self.lock:
            found = {
                "batches": self.batches,
                "records": self.records,
                "seconds": round(self.seconds, 3),
                "failures": self.failures,
            }
            self.batches = self.records = self.failures = 0
            self.seconds = 0.0
        return found


relay_stats = RelayStats()


class CallCounter:
    """Calls of the API (requests) and of the workers (event consumer, schedule) are counted apart:
    in production they are different Lambda functions, here they share one process."""

    KEYS = {
        ("dynamodb", None): "dynamodbCalls",
        ("dynamodb", WORKER): "workerDynamodbCalls",
        ("dynamodb", RELAY): "relayDynamodbCalls",
        ("sqs", None): "sqsCalls",
        ("sqs", WORKER): "workerSqsCalls",
        ("sqs", RELAY): "relaySqsCalls",
    }

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {key: Counter() for key in self.KEYS.values()}
        self.lock = threading.Lock()

    def _recorder(self, service: str) -> Any:
        def record(model: Any, **_: Any) -> None:
            key = self.KEYS.get((service, current_role()), self.KEYS[(service, WORKER)])
            with self.lock:
                self.counts[key][model.name] += 1

        return record

    def install(self) -> None:
        from chalicelib.repository.aws import client

        threading.Thread.start = _start_inheriting_role  # type: ignore[method-assign]
        for dynamodb in _service_clients():
            dynamodb.meta.events.register(
                "before-call.dynamodb", self._recorder("dynamodb"), unique_id="devstack-call-counter"
            )
        client("sqs").meta.events.register("before-call.sqs", self._recorder("sqs"), unique_id="devstack-sqs-counter")

    def report_and_reset(self) -> dict[str, Any]:
        with self.lock:
            counts = {key: dict(counter) for key, counter in self.counts.items()}
            self.counts = {key: Counter() for key in self.KEYS.values()}
        return {**counts, "relay": relay_stats.report_and_reset(), "maxRssMB": max_rss_mb(), "rssMB": rss_mb()}

    def print_report(self, *_: Any) -> None:
        print(json.dumps(self.report_and_reset()), flush=True)


def max_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return 0.0
    return round(pages * resource.getpagesize() / 2**20, 1)


def _service_clients() -> list[Any]:
    """Every DynamoDB client the service calls through, each once."""
    from pynamodb.models import Model

    from chalicelib.repository import contacts, models
    from chalicelib.repository.aws import client

    found: dict[int, Any] = {}
    boto = client("dynamodb")
    found[id(boto)] = boto
    model_classes = [
        v for v in vars(models).values() if isinstance(v, type) and issubclass(v, Model) and v is not Model
    ]
    for model in model_classes:
        pynamo = model._get_connection().connection.client
        found[id(pynamo)] = pynamo
    transactions = contacts._connection().client
    found[id(transactions)] = transactions
    return list(found.values())
