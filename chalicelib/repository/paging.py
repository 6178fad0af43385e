"""One page of a meta-table partition, for the routes that list a tenant's records with a cursor."""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.repository.models import _MetaTableItem

Item = TypeVar("Item", bound=_MetaTableItem)


def page_of(
    model: type[Item], pk: str, prefix: str, limit: int, after_sk: str | None, *, newest_first: bool = False
) -> tuple[list[Item], str | None]:
    """Up to `limit` items of partition `pk` whose sort key starts with `prefix`, strongly consistent, and the
    sort key to continue after (None on the last page: one item more is read to know)."""
    start: dict[str, Any] | None = {"pk": {"S": pk}, "sk": {"S": after_sk}} if after_sk else None
    query = model.query(
        pk,
        model.sk.startswith(prefix),
        scan_index_forward=not newest_first,
        consistent_read=True,
        limit=limit + 1,
        last_evaluated_key=start,
        page_size=limit + 1,
    )
    found = list(query)
    if len(found) > limit:
        return found[:limit], found[limit - 1].sk
    return found, None
