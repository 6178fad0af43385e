"""Patches that make moto's cost, not its answers, closer to DynamoDB's (local stack and tests only).

moto's `transact_write_items` backs up each table a transaction touches with
`copy.deepcopy` so that it can roll back, but it does so once per *item* of the
transaction, not once per table: a 25-item transaction on a table of 5,000 items
copies 125,000 items. The counters' transactions (docs/counters.md) made the local
stack crawl after a bulk load. The patch makes the copies of one call share one
copy per table; nothing is written between those copies, so the backup, and so
every answer and every rollback, is the same (tests/functional/test_moto_patches.py).
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_state = threading.local()


class _CopyOncePerTable:
    """Stands in for the `copy` module inside moto.dynamodb.models: tables are copied once per transaction."""

    def __init__(self, table_class: type) -> None:
        self._table_class = table_class

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        copies: dict[int, tuple[Any, Any]] | None = getattr(_state, "copies", None)
        if copies is None or not isinstance(value, self._table_class):
            return copy.deepcopy(value, memo)
        found = copies.get(id(value))
        if found is None:
            found = copies[id(value)] = (value, copy.deepcopy(value, memo))  # keeps `value` alive: ids stay unique
        return found[1]

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install() -> None:
    """Idempotent; call before the first DynamoDB call is served."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_copies_once", False):
        return
    models.copy = _CopyOncePerTable(Table)  # type: ignore[assignment]
    original = backend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        _state.copies = {}
        try:
            return original(self, *args, **kwargs)
        finally:
            _state.copies = None

    transact_write_items._copies_once = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
