"""BatchWriteItem / BatchGetItem with DynamoDB's limits, concurrency and honest retries.

PynamoDB's own batch helpers resend UnprocessedItems without back-off and give
up after three tries (dropping the rest), or loop forever on UnprocessedKeys.
These helpers chunk to 25 writes / 100 keys, run the chunks on a small thread
pool, retry what DynamoDB hands back with exponential back-off and full jitter,
and raise `BatchIncomplete` (carrying what is left) when the deadline nears,
so that a caller can report those rows instead of losing them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib.repository.aws import client

WRITE_CHUNK = 25
GET_CHUNK = 100
CONCURRENCY = 8
BASE_DELAY = 0.05
MAX_DELAY = 2.0

WriteRequest = tuple[str, dict[str, Any]]  # (table name, {"PutRequest": ...} | {"DeleteRequest": ...})
KeyRequest = tuple[str, dict[str, Any]]  # (table name, key attributes)
Owner = TypeVar("Owner", bound=Hashable)


class BatchIncomplete(Exception):
    """The deadline came before every request was accepted; `pending` lists what was not."""

    def __init__(self, pending: list[Any]) -> None:
        super().__init__(f"{len(pending)} batch requests left unprocessed")
        self.pending = pending


@dataclass
class Deadline:
    """Seconds left, e.g. from the Lambda context; `None` means no limit."""

    remaining: Callable[[], float] | None = None
    reserve: float = 2.0

    def near(self) -> bool:
        return self.remaining is not None and self.remaining() < self.reserve


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def backoff(attempt: int) -> float:
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**attempt))


def is_throttle(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return code in {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def _write_chunk(chunk: Sequence[WriteRequest], deadline: Deadline) -> list[WriteRequest]:
    pending = list(chunk)
    attempt = 0
    while pending:
        if deadline.near():  # also before the first try: a write started now could not be reported in time
            return pending
        request: dict[str, list[dict[str, Any]]] = {}
        for table, item in pending:
            request.setdefault(table, []).append(item)
        try:
            answer = client("dynamodb").batch_write_item(RequestItems=request)
        except Exception as error:
            if not is_throttle(error):
                raise
            answer = {"UnprocessedItems": request}
        unprocessed = answer.get("UnprocessedItems") or {}
        pending = [(table, item) for table, items in unprocessed.items() for item in items]
        if pending:
            time.sleep(backoff(attempt))
            attempt += 1
    return []


def batch_write(requests: Iterable[WriteRequest], deadline: Deadline | None = None) -> None:
    """Write every request, 25 a call, concurrently; raise BatchIncomplete near the deadline."""
    deadline = deadline or Deadline()
    chunks = _chunks(list(requests), WRITE_CHUNK)
    if not chunks:
        return
    with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(chunks))) as pool:
        left = [item for rest in pool.map(lambda c: _write_chunk(c, deadline), chunks) for item in rest]
    if left:
        raise BatchIncomplete(left)


def _get_chunk(chunk: Sequence[KeyRequest], deadline: Deadline) -> list[tuple[str, dict[str, Any]]]:
    pending: dict[str, dict[str, Any]] = {}
    for table, key in chunk:
        pending.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
    found: list[tuple[str, dict[str, Any]]] = []
    attempt = 0
    while pending:
        if deadline.near():
            raise BatchIncomplete([(t, k) for t, spec in pending.items() for k in spec["Keys"]])
        try:
            answer = client("dynamodb").batch_get_item(RequestItems=pending)
        except Exception as error:
            if not is_throttle(error):
                raise
            answer = {"Responses": {}, "UnprocessedKeys": pending}
        for table, items in answer.get("Responses", {}).items():
            found.extend((table, item) for item in items)
        pending = answer.get("UnprocessedKeys") or {}
        if pending:
            time.sleep(backoff(attempt))
            attempt += 1
    return found


def batch_get(keys: Iterable[KeyRequest], deadline: Deadline | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Read every key (strongly consistent), 100 a call, concurrently; answer (table, raw item) pairs."""
    deadline = deadline or Deadline()
    chunks = _chunks(list(keys), GET_CHUNK)
    if not chunks:
        return []
    with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(chunks))) as pool:
        return [pair for found in pool.map(lambda c: _get_chunk(c, deadline), chunks) for pair in found]


def write_in_phases(
    phases: Sequence[Mapping[Owner, list[WriteRequest]]],
    deadline: Deadline,
    identify: Callable[[WriteRequest], Hashable],
) -> set[Owner]:
    """Write phase after phase; answer the owners whose requests did not all land.

    Each phase maps an owner (e.g. one contact) to its write requests, all sent
    together in full 25-item calls whoever owns them. An owner with a request
    left unprocessed at the deadline is not written in later phases, so a caller
    can put what must land last (the contact item itself) in the last phase.
    `identify` gives a request's identity (table and key) that survives the
    round trip through DynamoDB's UnprocessedItems.
    """
    failed: set[Owner] = set()
    for phase in phases:
        requests = [request for owner, rs in phase.items() if owner not in failed for request in rs]
        try:
            batch_write(requests, deadline)
        except BatchIncomplete as incomplete:
            owners = {identify(request): owner for owner, rs in phase.items() for request in rs}
            failed.update(owners[identify(request)] for request in incomplete.pending)
    return failed
