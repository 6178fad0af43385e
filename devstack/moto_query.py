"""Makes moto's DynamoDB Query read only the queried partition: the local stack's fix, never deployed.

moto 5's `Table.query` starts from `Table.all_items()`, which sorts every item of the
table, keeps the partition's items and then walks them past ExclusiveStartKey: every
Query costs O(table), so with 200,000 contacts one listing page took seconds. `install()`
hands moto's own query a shorter list that gives the same answer: the partition's items
that meet the key condition and come after the start key, and, with a Limit, only the
Limit first of them plus the partition's next item (so that moto still reports
LastEvaluatedKey exactly when it would). Ordering,
the 1 MB page size, filters, projections and LastEvaluatedKey stay moto's own code.
Queries on secondary indexes are left alone. tests/unit/test_moto_query.py compares
answers with unpatched moto.
"""

from __future__ import annotations

import heapq
import threading
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_local = threading.local()
_original_query = Table.query
_original_all_items = Table.all_items


def _all_items(self: Table) -> list[Any]:
    override = getattr(_local, "override", None)
    if override is not None and override[0] is self:
        return list(override[1])
    return _original_all_items(self)


def _query(
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: Any,
    index_name: str | None = None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    def original() -> Any:
        return _original_query(
            self,
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            *args,
            **kwargs,
        )

    if index_name or hash_key is None or not self.range_key_attr:
        return original()
    partition = list((self.items.get(hash_key) or {}).values())
    if exclusive_start_key and self.range_key_attr in exclusive_start_key:
        start = DynamoType(exclusive_start_key[self.range_key_attr])
        partition = [i for i in partition if (start < i.range_key if scan_index_forward else i.range_key < start)]
    items = partition
    if range_comparison:
        items = [item for item in items if item.range_key.compare(range_comparison, range_objs)]
    if limit:
        pick = heapq.nsmallest if scan_index_forward else heapq.nlargest
        items = pick(limit, items, key=lambda item: item.range_key)  # sorted, a new list
    if limit and len(items) == limit:
        # moto reports LastEvaluatedKey when any item of the partition follows the last one
        # returned, matching or not: hand it that next item too.
        last = items[-1].range_key
        after = [i for i in partition if (last < i.range_key if scan_index_forward else i.range_key < last)]
        if after:
            items.append(
                min(after, key=lambda item: item.range_key)
                if scan_index_forward
                else max(after, key=lambda item: item.range_key)
            )
    _local.override = (self, items)
    try:
        return original()
    finally:
        _local.override = None


def install() -> None:
    """Patch moto in this process (its threaded server included); idempotent."""
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]


def uninstall() -> None:
    Table.query = _original_query  # type: ignore[method-assign]
    Table.all_items = _original_all_items  # type: ignore[method-assign]
