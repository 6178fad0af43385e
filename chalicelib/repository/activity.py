"""Contacts' activity timelines (activity table) and erasure tombstones (meta table).

Entries are written many at a time with BatchWriteItem and are idempotent (an
entry's key derives from the event or delivery attempt it records), so a
redelivered event rewrites the same item. `append` writes first and checks the
erasure tombstones afterwards, which closes the race with `erase` (see
docs/activity.md): whichever of the two comes second removes the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib.clock import now_epoch, now_iso
from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.batch import Deadline, batch_get, batch_write
from chalicelib.repository.models import ActivityItem, ErasedContactItem

ERASED_PREFIX = "ERASED#"
# Longer than an event can stay in flight (queue retention 4 days, DLQ 14 days); older events
# are not turned into activity at all (services.activity.MAX_EVENT_AGE_DAYS).
TOMBSTONE_DAYS = 30


def activity_pk(tenant_id: str, contact_id: str) -> str:
    return f"{tenant_id}#{contact_id}"


def activity_sk(occurred_at: str, entry_id: str) -> str:
    return f"{occurred_at}#{entry_id}"


def _contact_of(item: ActivityItem) -> tuple[str, str]:
    tenant_id, _, contact_id = item.pk.partition("#")
    return tenant_id, contact_id


def erased(contacts: Iterable[tuple[str, str]], deadline: Deadline | None = None) -> set[tuple[str, str]]:
    """Which (tenant, contact id) pairs were permanently deleted (strongly consistent reads)."""
    table = ErasedContactItem.Meta.table_name
    keys = [
        (table, {"pk": {"S": tenant_pk(tenant_id)}, "sk": {"S": f"{ERASED_PREFIX}{contact_id}"}})
        for tenant_id, contact_id in set(contacts)
    ]
    found = set()
    for _, raw in batch_get(keys, deadline):
        tenant_id = raw["pk"]["S"].removeprefix("TENANT#")
        found.add((tenant_id, raw["sk"]["S"].removeprefix(ERASED_PREFIX)))
    return found


def append(items: Sequence[ActivityItem], deadline: Deadline | None = None) -> int:
    """Write entries, then drop those of contacts erased meanwhile; answer how many were kept.

    Raises BatchIncomplete near the deadline (the caller retries: writes are idempotent).
    """
    items = list({(item.pk, item.sk): item for item in items}.values())  # a batch may not repeat a key
    if not items:
        return 0
    table = ActivityItem.Meta.table_name
    batch_write([(table, {"PutRequest": {"Item": item.serialize()}}) for item in items], deadline)
    gone = erased((_contact_of(item) for item in items), deadline)
    if not gone:
        return len(items)
    stale = [item for item in items if _contact_of(item) in gone]
    batch_write([(table, _delete_request(item.pk, item.sk)) for item in stale], deadline)
    return len(items) - len(stale)


def _delete_request(pk: str, sk: str) -> dict[str, Any]:
    return {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}


def page(tenant_id: str, contact_id: str, skip: int, take: int) -> list[ActivityItem]:
    """Entries `skip` to `skip + take` of a contact's timeline, newest first."""
    query = ActivityItem.query(
        activity_pk(tenant_id, contact_id),
        scan_index_forward=False,
        consistent_read=True,
        limit=skip + take,
        page_size=min(skip + take, 1000),
    )
    return list(query)[skip:]


def erase(tenant_id: str, contact_id: str) -> int:
    """Tombstone the contact, then delete its whole timeline; answer how many entries were deleted.

    The tombstone goes first: an `append` that misses it wrote before this query and is deleted
    here; one that sees it deletes its own entries.
    """
    ErasedContactItem(
        tenant_pk(tenant_id),
        f"{ERASED_PREFIX}{contact_id}",
        erased_at=now_iso(),
        expires_at=now_epoch() + TOMBSTONE_DAYS * 86400,
    ).save()
    pk = activity_pk(tenant_id, contact_id)
    keys = [item.sk for item in ActivityItem.query(pk, consistent_read=True, attributes_to_get=["pk", "sk"])]
    batch_write([(ActivityItem.Meta.table_name, _delete_request(pk, sk)) for sk in keys])
    return len(keys)
