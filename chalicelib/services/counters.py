"""Per-tenant totals (all, by status, subscription, tag, group) kept from the contacts change stream.

A consumer of the relay: `apply_changes` turns each committed change into
counter deltas (what the new image counts minus what the old image counted, so an
email change that moves the item nets out) and applies them with atomic ADDs,
exactly once per stream record (docs/counters.md). `total_for` answers
`includeTotal` for the filters a single counter can answer exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from chalicelib.repository import counters as repo
from chalicelib.repository.contacts import group_membership, tag_membership
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.contacts import ContactPage, CountedContactPage, ListQuery, SearchBody
from chalicelib.services.contact_changes import ContactChange

ALL = "all"


def counted(item: ContactItem | None) -> Counter[str]:
    """The counters one stored contact adds 1 to; archived contacts count nowhere."""
    if item is None or item.deleted_at is not None:
        return Counter()
    names = [ALL, f"subscription#{item.subscription}"]
    if item.status is not None:
        names.append(f"status#{item.status}")
    names += [tag_membership(tag) for tag in item.tags or ()]
    names += [group_membership(group_id) for group_id in item.group_ids or ()]
    return Counter(names)


def deltas_of(change: ContactChange) -> list[repo.Delta]:
    """The counter changes of one stream record, split into parts when one transaction cannot hold them."""
    delta = Counter(counted(change.new))
    delta.subtract(counted(change.old))
    counts = sorted((name, value) for name, value in delta.items() if value)
    size = repo.MAX_COUNTERS_PER_DELTA
    if len(counts) <= size:
        return [repo.Delta(change.event_id, change.tenant_id, dict(counts))] if counts else []
    return [
        repo.Delta(f"{change.event_id}#{part}", change.tenant_id, dict(counts[start : start + size]))
        for part, start in enumerate(range(0, len(counts), size))
    ]


def apply_changes(changes: Sequence[ContactChange]) -> None:
    """The relay's entry point: apply a stream batch's deltas, idempotent under a replayed batch."""
    repo.apply([delta for change in changes for delta in deltas_of(change)])


def counter_for(
    *,
    text: str | None = None,
    status: str | None = None,
    subscription: str | None = None,
    tags: Sequence[str] = (),
    group_ids: Sequence[str] = (),
    custom_fields: dict[str, Any] | None = None,
) -> str | None:
    """The one counter that equals the number of matches, or None when no single counter does."""
    if text or custom_fields:
        return None
    named = [f"status#{status}" if status is not None else None]
    named.append(f"subscription#{subscription}" if subscription is not None else None)
    named += [tag_membership(tag) for tag in dict.fromkeys(tags)]
    named += [group_membership(group_id) for group_id in dict.fromkeys(group_ids)]
    present = [name for name in named if name is not None]
    if not present:
        return ALL
    return present[0] if len(present) == 1 else None


def total_for(tenant_id: str, **filters: Any) -> int | None:
    """`total` of a listing: exact for no filter or one status, subscription, tag or group; else None."""
    name = counter_for(**filters)
    return repo.get_count(tenant_id, name) if name is not None else None


def member_count(tenant_id: str, group_id: str) -> int:
    """Members of a group that are not archived (follows the stream, like totals)."""
    return repo.get_count(tenant_id, group_membership(group_id))


def with_total(tenant_id: str, page: ContactPage, asked: ListQuery | SearchBody) -> CountedContactPage:
    """`page` with the `total` of the listing or search that `asked` for it (includeTotal)."""
    if isinstance(asked, ListQuery):
        total = total_for(
            tenant_id,
            text=asked.search,
            status=asked.status,
            subscription=asked.subscription,
            tags=[asked.tag] if asked.tag else [],
            group_ids=[asked.group] if asked.group else [],
        )
    else:
        filters = asked.filters
        total = total_for(
            tenant_id,
            text=asked.query,
            status=filters.status,
            subscription=filters.subscription,
            tags=filters.tags,
            group_ids=filters.groupIds,
            custom_fields=filters.customFields,
        )
    return CountedContactPage(data=page.data, nextCursor=page.nextCursor, total=total)
