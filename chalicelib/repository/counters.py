"""Per-tenant counters in the meta table, changed by atomic ADDs that a replayed stream batch cannot repeat."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.repository.aws import client
from chalicelib.repository.batch import batch_get, batch_write
from chalicelib.repository.models import CounterItem

APPLIED_SK = "APPLIED"
# DynamoDB takes 100 items per transaction; moto still enforces the old limit of 25, and at 25 a
# transaction already carries the deltas of dozens of changes of one tenant (they share counters).
TRANSACTION_ITEMS = 25
MARKER_TTL_SECONDS = 2 * 24 * 3600
MAX_CONFLICT_RETRIES = 8
# One delta (one marker) must fit a transaction on its own.
MAX_COUNTERS_PER_DELTA = TRANSACTION_ITEMS - 1


def counters_pk(tenant_id: str) -> str:
    return f"COUNTS#{tenant_id}"


def marker_pk(marker: str) -> str:
    return f"APPLIED#{marker}"


@dataclass(frozen=True)
class Delta:
    """The counter changes of one stream record (or one part of a large one), applied at most once."""

    marker: str  # the record's eventID, "#<n>" appended for the parts of a record too large for one transaction
    tenant_id: str
    counts: Mapping[str, int]  # counter name -> change, never 0


def _pack(deltas: Sequence[Delta]) -> list[list[Delta]]:
    """Consecutive deltas in transactions of at most TRANSACTION_ITEMS items (markers + distinct counters)."""
    packs: list[list[Delta]] = []
    current: list[Delta] = []
    counters: set[tuple[str, str]] = set()
    for delta in deltas:
        touched = {(delta.tenant_id, name) for name in delta.counts}
        if current and len(current) + 1 + len(counters | touched) > TRANSACTION_ITEMS:
            packs.append(current)
            current, counters = [], set()
        current.append(delta)
        counters |= touched
    if current:
        packs.append(current)
    return packs


def _transaction(deltas: Sequence[Delta], expires_at: int) -> list[dict[str, Any]]:
    table = CounterItem.Meta.table_name
    items: list[dict[str, Any]] = []
    for delta in deltas:
        marker = {"pk": {"S": marker_pk(delta.marker)}, "sk": {"S": APPLIED_SK}, "expiresAt": {"N": str(expires_at)}}
        items.append({"Put": {"TableName": table, "Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}})
    sums: dict[tuple[str, str], int] = {}
    for delta in deltas:
        for name, change in delta.counts.items():
            sums[(delta.tenant_id, name)] = sums.get((delta.tenant_id, name), 0) + change
    for (tenant_id, name), change in sorted(sums.items()):
        if change == 0:
            continue  # e.g. a contact tagged and untagged in one batch; its markers still go in
        key = {"pk": {"S": counters_pk(tenant_id)}, "sk": {"S": name}}
        update = {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "ADD #count :change",
            "ExpressionAttributeNames": {"#count": "count"},
            "ExpressionAttributeValues": {":change": {"N": str(change)}},
        }
        items.append({"Update": update})
    return items


def _cancellation_codes(error: Exception) -> list[str]:
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    return [str(reason.get("Code") or "None") for reason in reasons]


def _apply_pack(pack: list[Delta]) -> None:
    pending = list(pack)
    conflicts = 0
    while pending:
        items = _transaction(pending, int(time.time()) + MARKER_TTL_SECONDS)
        try:
            client("dynamodb").transact_write_items(TransactItems=items)
            return
        except Exception as error:
            if getattr(error, "response", {}).get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = _cancellation_codes(error)
            # Items 0..len(pending)-1 are the markers: a failed condition there means "already applied".
            applied = {i for i, code in enumerate(codes[: len(pending)]) if code == "ConditionalCheckFailed"}
            if applied:
                pending = [delta for i, delta in enumerate(pending) if i not in applied]
                continue
            # TransactionConflict / throttling: another relay invocation touched a counter; back off and retry.
            conflicts += 1
            if conflicts >= MAX_CONFLICT_RETRIES:
                raise  # the stream retries the batch; the markers keep what landed from landing twice
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2**conflicts)))


def apply(deltas: Sequence[Delta]) -> None:
    """Apply every delta exactly once: markers and summed ADDs in one transaction per pack.

    Raises on anything but an already-applied marker, so that the stream retries the batch.
    """
    for pack in _pack([delta for delta in deltas if delta.counts]):
        _apply_pack(pack)


def get_counts(tenant_id: str, names: Iterable[str]) -> dict[str, int]:
    """The named counters (strongly consistent); a counter never written is 0."""
    table = CounterItem.Meta.table_name
    wanted = sorted(set(names))
    keys = [(table, {"pk": {"S": counters_pk(tenant_id)}, "sk": {"S": name}}) for name in wanted]
    found = {raw["sk"]["S"]: int(raw.get("count", {}).get("N", "0")) for _, raw in batch_get(keys)}
    return {name: found.get(name, 0) for name in wanted}


def get_count(tenant_id: str, name: str) -> int:
    try:
        item = CounterItem.get(counters_pk(tenant_id), name, consistent_read=True)
    except CounterItem.DoesNotExist:
        return 0
    return int(item.total or 0)


def counter_names(tenant_id: str) -> list[str]:
    """Every counter stored for a tenant (one Query of its counters partition)."""
    request: dict[str, Any] = {
        "TableName": CounterItem.Meta.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": counters_pk(tenant_id)}},
        "ProjectionExpression": "sk",
        "ConsistentRead": True,
    }
    names: list[str] = []
    for page in client("dynamodb").get_paginator("query").paginate(**request):
        names += [raw["sk"]["S"] for raw in page["Items"]]
    return names


def replace_counts(tenant_id: str, counts: Mapping[str, int]) -> None:
    """Set a tenant's counters to exactly `counts`; every other counter it has is set to 0 (the backfill)."""
    table = CounterItem.Meta.table_name
    values = {name: 0 for name in counter_names(tenant_id)} | dict(counts)
    batch_write(
        (
            table,
            {"PutRequest": {"Item": {"pk": {"S": counters_pk(tenant_id)}, "sk": {"S": name}, "count": {"N": str(n)}}}},
        )
        for name, n in sorted(values.items())
    )
