"""Makes moto's DynamoDB Query cost O(log n + page) per partition: the local stack's fix, never deployed.

moto 5's `Table.query` starts from `Table.all_items()`, which sorts every item of the
table, keeps the partition's items and then walks them past ExclusiveStartKey: every
Query costs O(table), so with 200,000 contacts one listing page took seconds.

`install()` does two things:

- Every partition of a table with a range key becomes a `_Partition`: moto's own dict
  (range key → item), which also keeps its range keys in DynamoDB's order (moto's: DynamoType's
  `cast_value`, so strings by code point, numbers numerically). The sorted list is built the
  first time a Query needs it and then kept up to date by the dict's own mutators
  (`d[k] = v`, `pop`, `del`: one bisect each); any other mutator (`clear`, `update`, ...)
  drops it, to be rebuilt. Since the dict itself keeps the order, no write path of moto (put,
  update, delete, batch, transactions and their rollbacks, devstack/atomic.py's restore, the
  bench's direct seeding) can leave it stale. One lock guards the lists: moto's threaded
  server writes on one thread while another queries.
- `Table.query` bisects the sorted keys for the window the key condition and
  ExclusiveStartKey allow, and hands moto's own query only that window's first items: with
  a Limit, the Limit first of them plus the partition's next item (so that moto still reports
  LastEvaluatedKey exactly when it would); without, as many as fill moto's 1 MB page plus
  the one that overflows it (moto also weighs the items after the window against the 1 MB page,
  which DynamoDB does not: reproduced, walking past the window only when the page is within one
  item's size of 1 MB). Ordering, the 1 MB page size, filters, projections and LastEvaluatedKey
  stay moto's own code. The first Query on a partition sorts its keys (about 1 s for 200,000).

Queries on secondary indexes (the project has none), legacy QueryFilter/KeyConditions on non-key
attributes, and partitions created before `install()` that were not converted are left to moto.
tests/unit/test_moto_query.py compares answers with unpatched moto, with writes of every
kind interleaved.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

_local = threading.local()
_lock = threading.Lock()  # every partition's sorted keys: a write and a Query may run on two server threads
_MAX_ITEM_SIZE = 410_000  # DynamoDB's 400 KB, as moto measures an item (its own check allows 405,000)
_original_query = Table.query
_original_all_items = Table.all_items
_original_init = Table.__init__


def _cast(key: DynamoType) -> Any:
    return key.cast_value  # what DynamoType's < compares: moto's (and DynamoDB's) range key order


class _Partition(dict):  # type: ignore[type-arg]  # DynamoType range key -> moto Item
    """One partition of a table with a range key: moto's dict, plus its keys in order once a Query asked."""

    __slots__ = ("_sorted",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sorted: list[DynamoType] | None = None

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy/deepcopy (moto's transaction backups and rollbacks, restored tables) rebuild a fresh
        # partition from the items, never sharing or copying the sorted list.
        return (type(self), (dict(self),))

    def __setitem__(self, key: DynamoType, value: Any) -> None:
        with _lock:
            new = key not in self
            super().__setitem__(key, value)
            if new and self._sorted is not None:
                bisect.insort(self._sorted, key, key=_cast)

    def __delitem__(self, key: DynamoType) -> None:
        with _lock:
            super().__delitem__(key)
            self._forget(key)

    def pop(self, key: DynamoType, *default: Any) -> Any:
        with _lock:
            present = key in self
            value = super().pop(key, *default)
            if present:
                self._forget(key)
            return value

    def _forget(self, key: DynamoType) -> None:
        if self._sorted is None:
            return
        index = bisect.bisect_left(self._sorted, key.cast_value, key=_cast)
        if index < len(self._sorted) and self._sorted[index] == key:
            del self._sorted[index]
        else:  # cannot happen while every mutation passes here; rebuild rather than trust it
            self._sorted = None

    def sorted_keys(self) -> list[DynamoType]:
        """The keys in ascending order; call with `_lock` held and do not keep the list past it."""
        if self._sorted is None:
            self._sorted = sorted(self, key=_cast)
        return self._sorted


def _dropping(name: str) -> Callable[..., Any]:
    method = getattr(dict, name)

    def mutate(self: _Partition, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            self._sorted = None  # rebuilt by the next Query: moto itself never calls these
            return method(self, *args, **kwargs)

    return mutate


for _name in ("popitem", "clear", "update", "setdefault", "__ior__"):
    setattr(_Partition, _name, _dropping(_name))


def _convert(table: Table) -> None:
    """Give a table with a range key sorted partitions (moto's `items` is a defaultdict of dicts)."""
    if not table.range_key_attr or table.items.default_factory is _Partition:
        return
    converted: defaultdict[Any, _Partition] = defaultdict(_Partition)
    for hash_key, partition in table.items.items():
        converted[hash_key] = _Partition(partition)
    table.items = converted


def _init(self: Table, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    _convert(self)


def _all_items(self: Table) -> list[Any]:
    override = getattr(_local, "override", None)
    if override is not None and override[0] is self:
        return list(override[1])
    return _original_all_items(self)


def _window(keys: list[DynamoType], comparison: str | None, values: list[DynamoType]) -> tuple[int, int] | None:
    """[lo, hi) of the sorted keys that meet the key condition, or None when it is not one of DynamoDB's."""

    def left(value: DynamoType) -> int:
        return bisect.bisect_left(keys, value.cast_value, key=_cast)

    def right(value: DynamoType) -> int:
        return bisect.bisect_right(keys, value.cast_value, key=_cast)

    lo, hi = 0, len(keys)
    if comparison is None:
        pass
    elif comparison in ("=", "EQ"):
        lo, hi = left(values[0]), right(values[0])
    elif comparison in ("<", "LT"):
        hi = left(values[0])
    elif comparison in ("<=", "LE"):
        hi = right(values[0])
    elif comparison in (">", "GT"):
        lo = right(values[0])
    elif comparison in (">=", "GE"):
        lo = left(values[0])
    elif comparison == "BETWEEN":
        lo, hi = left(values[0]), right(values[1])
    elif comparison == "BEGINS_WITH":
        prefix = values[0].cast_value
        if not isinstance(prefix, str | bytes):
            return None
        lo = left(values[0])
        # From the prefix on, the keys starting with it come first (a key >= prefix that does not start
        # with it differs from it by a greater character, so it follows all that do): bisect the predicate.
        hi = bisect.bisect_left(keys, True, lo=lo, key=lambda key: not key.cast_value.startswith(prefix))
    else:
        return None
    return lo, max(lo, hi)


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

    known = {"consistent_read", "filter_expression", "hash_key_conditions", "range_key_conditions"}
    if index_name or hash_key is None or not self.range_key_attr or set(kwargs) - known:
        return original()  # secondary indexes, and QueryFilter (filter_kwargs: moto counts Limit after it)
    if any(value.type != self.range_key_type for value in range_objs):
        return original()
    start: DynamoType | None = None
    if exclusive_start_key:
        if self.range_key_attr not in exclusive_start_key or self.hash_key_attr not in exclusive_start_key:
            return original()
        if DynamoType(exclusive_start_key[self.hash_key_attr]) != hash_key:
            return original()
        start = DynamoType(exclusive_start_key[self.range_key_attr])
        if start.type != self.range_key_type:
            return original()
    partition = self.items.get(hash_key)
    if partition is not None and not isinstance(partition, _Partition):
        return original()  # a table from before install(), not converted
    items: list[Any] = []
    with _lock:
        keys = partition.sorted_keys() if partition is not None else []
        window = _window(keys, range_comparison, range_objs)
        if window is None:
            return original()
        lo, hi = window
        if start is not None:
            if scan_index_forward:
                lo = max(lo, bisect.bisect_right(keys, start.cast_value, key=_cast))
            else:
                hi = min(hi, bisect.bisect_left(keys, start.cast_value, key=_cast))
            hi = max(lo, hi)
        step = 1 if scan_index_forward else -1
        index, end = (lo, hi) if scan_index_forward else (hi - 1, lo - 1)
        size = 0
        while index != end:
            item = partition[keys[index]]  # type: ignore[index]
            items.append(item)
            index += step
            if limit and len(items) == limit:
                # moto reports LastEvaluatedKey when any item of the partition follows the last one
                # returned, matching or not: hand it that next item too.
                if 0 <= index < len(keys):
                    items.append(partition[keys[index]])  # type: ignore[index]
                break
            size += item.size()
            if size > RESULT_SIZE_LIMIT:
                break  # moto ends the page before this item: the ones after it do not matter
        else:
            # The window ended before the Limit and the 1 MB page. moto also weighs each later item of
            # the partition (key condition unmet: DynamoDB never reads it) against the page's room, and
            # one that would overflow it makes moto report LastEvaluatedKey: hand moto the items up to
            # that one. None can while the page has an item's room left.
            while size + _MAX_ITEM_SIZE > RESULT_SIZE_LIMIT and 0 <= index < len(keys):
                item = partition[keys[index]]  # type: ignore[index]
                items.append(item)
                index += step
                if size + item.size() > RESULT_SIZE_LIMIT:
                    break
    _local.override = (self, items)
    try:
        return original()
    finally:
        _local.override = None


def install() -> None:
    """Patch moto in this process (its threaded server included); idempotent."""
    from moto.dynamodb.models import dynamodb_backends

    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            for table in list(backend.tables.values()):
                _convert(table)
    Table.__init__ = _init  # type: ignore[method-assign]
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]


def uninstall() -> None:
    """Moto's own query again (tables keep their sorted partitions, which behave as moto's dicts)."""
    Table.__init__ = _original_init  # type: ignore[method-assign]
    Table.query = _original_query  # type: ignore[method-assign]
    Table.all_items = _original_all_items  # type: ignore[method-assign]
