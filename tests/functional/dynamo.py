"""botocore event hooks on the repository's DynamoDB client: count calls, inject what moto never does.

moto accepts oversized batches, never answers UnprocessedItems/UnprocessedKeys
and never throttles. These hooks make it: they drop items from a request
*before* it is sent and hand them back as unprocessed (so they really were not
written), answer throttling errors, and record the size of every batch call.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from chalicelib.repository.aws import client
from chalicelib.settings import settings


@dataclass
class CallLog:
    calls: Counter[str] = field(default_factory=Counter)
    write_sizes: list[int] = field(default_factory=list)
    get_sizes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.calls[model.name] += 1
            if model.name == "BatchWriteItem":
                self.write_sizes.append(sum(len(items) for items in params["RequestItems"].values()))
            elif model.name == "BatchGetItem":
                self.get_sizes.append(sum(len(spec["Keys"]) for spec in params["RequestItems"].values()))


@contextmanager
def hooked(event: str, handler: Any) -> Iterator[None]:
    events = client("dynamodb").meta.events
    events.register(event, handler, unique_id=f"test-{id(handler)}")
    try:
        yield
    finally:
        events.unregister(event, handler, unique_id=f"test-{id(handler)}")


@contextmanager
def counting() -> Iterator[CallLog]:
    log = CallLog()
    with hooked("before-parameter-build.dynamodb", log.record):
        yield log


class DropHalf:
    """Every BatchWriteItem / BatchGetItem sends only its first half; the rest comes back unprocessed.

    With `forever`, it keeps doing so (a table that never catches up); otherwise
    only the first `times` calls are trimmed.
    """

    def __init__(self, times: int = 10**9) -> None:
        self.times = times
        self.trimmed = 0
        self.lock = threading.Lock()

    def _claim(self) -> bool:
        with self.lock:
            if self.trimmed >= self.times:
                return False
            self.trimmed += 1
            return True

    def before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if model.name not in ("BatchWriteItem", "BatchGetItem") or not self._claim():
            return
        entries = [(table, entry) for table, spec in params["RequestItems"].items() for entry in _entries(model, spec)]
        if len(entries) < 2:
            return
        keep, drop = entries[: len(entries) // 2], entries[len(entries) // 2 :]
        params["RequestItems"] = _group(model, keep, params["RequestItems"])
        context["test_dropped"] = _group(model, drop, params["RequestItems"])

    def after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        dropped = context.get("test_dropped")
        if dropped:
            parsed["UnprocessedItems" if model.name == "BatchWriteItem" else "UnprocessedKeys"] = dropped

    @contextmanager
    def installed(self) -> Iterator[DropHalf]:
        with hooked("before-parameter-build.dynamodb", self.before), hooked("after-call.dynamodb", self.after):
            yield self


def _entries(model: Any, spec: Any) -> list[Any]:
    return list(spec) if model.name == "BatchWriteItem" else list(spec["Keys"])


def _group(model: Any, entries: list[tuple[str, Any]], original: dict[str, Any]) -> dict[str, Any]:
    grouped: dict[str, Any] = {}
    for table, entry in entries:
        if model.name == "BatchWriteItem":
            grouped.setdefault(table, []).append(entry)
        else:
            spec = grouped.setdefault(table, {k: v for k, v in original.get(table, {}).items() if k != "Keys"})
            spec.setdefault("Keys", []).append(entry)
    return grouped


class _Http:
    status_code = 400
    headers: dict[str, str] = {}


class Throttle:
    """The first `times` batch calls answer ProvisionedThroughputExceededException without reaching moto."""

    def __init__(self, times: int) -> None:
        self.left = times
        self.lock = threading.Lock()

    def before_call(self, model: Any, **_: Any) -> Any:
        if model.name not in ("BatchWriteItem", "BatchGetItem"):
            return None
        with self.lock:
            if self.left <= 0:
                return None
            self.left -= 1
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds capacity"}
        return _Http(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    @contextmanager
    def installed(self) -> Iterator[Throttle]:
        with hooked("before-call.dynamodb", self.before_call):
            yield self


def item_count(table: str) -> int:
    return int(boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"])


def stored_counts() -> dict[str, int]:
    """Items in the tables a contact write touches (the meta table holds groups, keys, idempotency)."""
    return {
        name: item_count(name)
        for name in (settings.contacts_table, settings.contact_keys_table, settings.memberships_table)
    }
