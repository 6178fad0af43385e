"""The changes feed's entries (one table: a tenant's entries on FEED_SHARDS partition keys, each in position order).

Item: pk "<tenantId>#<shard>", position "<changedAt>#<contactId>#<sequence>"; the shard is a
hash of the contact id, so all entries of one contact share a key and keep their order.
Positions only grow, so one key per tenant would put every write on one hot end that
DynamoDB cannot split for heat (~1,000 writes/s); FEED_SHARDS keys take FEED_SHARDS times
that. A reader merges the shards by position (docs/changes-feed.md). Also the erase check.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from chalicelib.repository.aws import client
from chalicelib.repository.batch import batch_get, batch_write
from chalicelib.repository.contacts import id_key
from chalicelib.repository.models import ChangeEntryItem, ContactKeyItem
from chalicelib.repository.search_index import shard_of

# 4 partition keys per tenant: ~4,000 entry writes/s, and a page costs 4 Queries (docs/changes-feed.md).
FEED_SHARDS = 4
# A shard's Query asks for this share of the entries a page wants: contacts hash evenly, so each
# shard supplies about 1/FEED_SHARDS of a page and twice that leaves room; a shard that supplies
# more is simply read on (one more Query), so a page reads about twice what it answers, not 4x.
SHARD_SHARE = 2 / FEED_SHARDS


def feed_pk(tenant_id: str, shard: int) -> str:
    return f"{tenant_id}#{shard}"


def entry_pk(tenant_id: str, contact_id: str) -> str:
    """The partition key of a contact's entries: every entry of one contact in one shard."""
    return feed_pk(tenant_id, shard_of(contact_id, FEED_SHARDS))


def new_entry(
    tenant_id: str,
    contact_id: str,
    position: str,
    *,
    external_id: str | None,
    change: str,
    changed_at: str,
    contact: str | None,
    expires_at: int,
) -> ChangeEntryItem:
    """An entry of the tenant's feed, under its contact's shard."""
    return ChangeEntryItem(
        entry_pk(tenant_id, contact_id),
        position,
        contact_id=contact_id,
        external_id=external_id,
        change=change,
        changed_at=changed_at,
        contact=contact,
        expires_at=expires_at,
    )


def put_entries(entries: Sequence[ChangeEntryItem]) -> None:
    """Write entries, 25 a call, retrying what DynamoDB hands back (repository/batch.py)."""
    table = ChangeEntryItem.Meta.table_name
    batch_write([(table, {"PutRequest": {"Item": entry.serialize()}}) for entry in entries])


def _shard_entries(pk: str, after: str, before: str, page_size: int) -> Iterator[ChangeEntryItem]:
    """One shard's entries with `after` < position < `before`, `page_size` a Query, only as far as the caller reads."""
    request: dict[str, Any] = {
        "TableName": ChangeEntryItem.Meta.table_name,
        "KeyConditionExpression": "pk = :pk AND #position < :before",
        "ExpressionAttributeNames": {"#position": "position"},  # a reserved word
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":before": {"S": before}},
        # A start key need not exist: the Query begins right after `after`.
        "ExclusiveStartKey": {"pk": {"S": pk}, "position": {"S": after}},
        "Limit": page_size,
        "ConsistentRead": True,
    }
    while True:
        answer = client("dynamodb").query(**request)
        for raw in answer["Items"]:
            yield ChangeEntryItem.from_raw_data(raw)
        start = answer.get("LastEvaluatedKey")
        if not start:
            return
        request = {**request, "ExclusiveStartKey": start}


def shard_page_size(wanted: int) -> int:
    """Entries one shard's Query asks for when a page wants `wanted` entries of the merge."""
    return max(1, math.ceil(wanted * SHARD_SHARE))


def read_entries(tenant_id: str, after: str, before: str, wanted: int) -> Iterator[ChangeEntryItem]:
    """A tenant's entries with `after` < position < `before`, merged across shards in position order.

    Strongly consistent. Each shard is read lazily, `shard_page_size(wanted)` entries a Query,
    so a page costs FEED_SHARDS Queries to start and one more each time a shard supplies more
    than that. Because the merge hands out the smallest position of all shards first, every
    entry before the last one read has been read, whichever shard holds it: the last
    position read is a safe cursor.
    """
    size = shard_page_size(wanted)
    streams = [_shard_entries(feed_pk(tenant_id, shard), after, before, size) for shard in range(FEED_SHARDS)]
    return heapq.merge(*streams, key=lambda entry: entry.position)


def existing_contact_ids(contacts: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (tenant, contact id) pairs still have a contact: their `id#` pointer exists (one BatchGetItem / 100)."""
    table = ContactKeyItem.Meta.table_name
    keys = [(table, {"tenantId": {"S": tenant}, "key": {"S": id_key(contact_id)}}) for tenant, contact_id in contacts]
    return {(raw["tenantId"]["S"], raw["id"]["S"]) for _, raw in batch_get(keys)}
