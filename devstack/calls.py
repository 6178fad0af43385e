"""Opt-in accounting for `make bench`: DynamoDB calls by operation and peak memory of this process.

`python -m devstack --count-calls` registers a `before-call.dynamodb` hook on
every botocore client the service uses (the repository's boto3 client and each
PynamoDB connection's own client). On SIGUSR1 the process prints one JSON line
`{"dynamodbCalls": {...}, "maxRssMB": ..., "rssMB": ...}` and starts counting
afresh, so a benchmark can read the calls of each request it made.
"""

from __future__ import annotations

import json
import resource
import threading
from collections import Counter
from typing import Any


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def record(self, model: Any, **_: Any) -> None:
        with self.lock:
            self.calls[model.name] += 1

    def install(self) -> None:
        for dynamodb in _service_clients():
            dynamodb.meta.events.register("before-call.dynamodb", self.record, unique_id="devstack-call-counter")

    def report_and_reset(self) -> dict[str, Any]:
        with self.lock:
            calls, self.calls = dict(self.calls), Counter()
        return {"dynamodbCalls": calls, "maxRssMB": max_rss_mb(), "rssMB": rss_mb()}

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
