"""Opt-in accounting for `make bench`: DynamoDB calls by operation and peak memory of this process.

`python -m devstack --count-calls` registers a `before-call.dynamodb` hook on
every botocore client the service uses (the repository's boto3 client and each
PynamoDB connection's own client). On SIGUSR1 the process prints one JSON line
`{"dynamodbCalls": {...}, "workerDynamodbCalls": {...}, "maxRssMB": ..., "rssMB": ...}`
and starts counting afresh, so a benchmark can read the calls of each request it
made; calls of the event consumer and the schedule (other Lambda functions in
production) are counted apart, by the thread that makes them.
"""

from __future__ import annotations

import json
import resource
import threading
from collections import Counter
from typing import Any

WORKER = "worker"
IMPORTS = "imports"  # the import worker's poller: counted apart from the event consumer (make bench-import)
_thread_start = threading.Thread.start


def _start_inheriting_role(self: threading.Thread) -> None:
    """A thread takes the role of the thread that starts it (pools started by a worker are workers)."""
    self.devstack_role = getattr(threading.current_thread(), "devstack_role", None)  # type: ignore[attr-defined]
    _thread_start(self)


def mark_worker(role: str = WORKER) -> None:
    """Called by the SQS pollers and the schedule timer: their calls (and their pools') are not the API's."""
    threading.current_thread().devstack_role = role  # type: ignore[attr-defined]


class CallCounter:
    """Calls of the API (requests) and of the workers (event consumer, schedule) are counted apart:
    in production they are different Lambda functions, here they share one process."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.worker_calls: Counter[str] = Counter()
        self.import_calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def record(self, model: Any, **_: Any) -> None:
        role = getattr(threading.current_thread(), "devstack_role", None)
        counter = self.import_calls if role == IMPORTS else self.worker_calls if role == WORKER else self.calls
        with self.lock:
            counter[model.name] += 1

    def install(self) -> None:
        threading.Thread.start = _start_inheriting_role  # type: ignore[method-assign]
        for dynamodb in _service_clients():
            dynamodb.meta.events.register("before-call.dynamodb", self.record, unique_id="devstack-call-counter")

    def report_and_reset(self) -> dict[str, Any]:
        with self.lock:
            calls, self.calls = dict(self.calls), Counter()
            worker_calls, self.worker_calls = dict(self.worker_calls), Counter()
            import_calls, self.import_calls = dict(self.import_calls), Counter()
        return {
            "dynamodbCalls": calls,
            "workerDynamodbCalls": worker_calls,
            "importDynamodbCalls": import_calls,
            "maxRssMB": max_rss_mb(),
            "rssMB": rss_mb(),
        }

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
