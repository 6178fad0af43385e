"""DynamoDB's write guarantees on the embedded AWS: atomic conditions, cheap transactions.

moto's DynamoDB evaluates a write's condition and then writes, with nothing between the
two: on its threaded server, two requests can both pass a condition that DynamoDB lets
exactly one pass (two attaches both "attached", two idempotency claims both won). The
local stack serialises moto's DynamoDB write operations with one lock, so that
concurrent clients see DynamoDB's guarantees. Reads are left alone.

moto also backs up a whole table (items and stream records) with deepcopy before each
action of a TransactWriteItems call, so a transaction's cost grows with the table: a
50-contact group attach on a table of a few thousand contacts takes minutes. Under the
lock, the stack backs up only the items the transaction touches (and the streams'
lengths) and restores those when moto cancels it, which is the same outcome.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from collections.abc import Callable
from typing import Any

_WRITES = ("put_item", "update_item", "delete_item")
_lock = threading.RLock()


def make_dynamodb_writes_atomic() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "_atomic", False):
            setattr(DynamoDBBackend, name, _locked(method))
    if not getattr(DynamoDBBackend.transact_write_items, "_atomic", False):
        DynamoDBBackend.transact_write_items = _transaction(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def write(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    write._atomic = True  # type: ignore[attr-defined]
    return write


def _transaction(method: Callable[..., Any]) -> Callable[..., Any]:
    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    # moto's module uses `copy.deepcopy` for its table backups and for update_item's old image; only the
    # table backups are skipped (every caller of this module's copy runs under the lock).
    shallow_tables = types.SimpleNamespace(deepcopy=lambda x, *a: x if isinstance(x, Table) else copy.deepcopy(x, *a))

    @functools.wraps(method)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _lock:
            items: list[tuple[Any, Any, Any, Any]] = []
            streams: dict[int, tuple[Any, int]] = {}
            for entry in transact_items:
                op = next(iter(entry.values()), {})
                table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                attributes = (op.get("Item") or op.get("Key") or {}) if table is not None else {}
                if table is None or table.hash_key_attr not in attributes:
                    continue
                hash_value = DynamoType(attributes[table.hash_key_attr])
                range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
                if range_value is None and table.range_key_attr:
                    continue
                current = table.items.get(hash_value)
                if range_value is not None:
                    current = (current or {}).get(range_value)
                items.append((table, hash_value, range_value, copy.deepcopy(current)))
                if table.stream_shard is not None:
                    streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
            models.copy = shallow_tables  # type: ignore[attr-defined]
            try:
                return method(self, transact_items)
            except Exception:
                for table, hash_value, range_value, before in reversed(items):
                    _restore(table, hash_value, range_value, before)
                for shard, length in streams.values():
                    del shard.items[length:]
                raise
            finally:
                models.copy = copy  # type: ignore[attr-defined]

    transact_write_items._atomic = True  # type: ignore[attr-defined]
    return transact_write_items


def _restore(table: Any, hash_value: Any, range_value: Any, before: Any) -> None:
    if range_value is None:
        if before is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = before
        return
    partition = table.items[hash_value]
    if before is None:
        partition.pop(range_value, None)
    else:
        partition[range_value] = before
