"""The search index's items (word postings and sort orders) in the memberships table, and the reads listings make.

Item shapes (docs/search.md):
- word posting  pk "<tenant>#w#<first character>"      sk "<token> <email>"      id, email, c (createdAt)
- sort entry    pk "<tenant>#s#<field>#<shard>"         sk "<value> <email>"      id, email
  for field createdAt and updatedAt; the shard is a hash of the email, so a tenant's
  writes spread over SORT_SHARDS partition keys instead of one ever-hot "newest" end.

A space separates the parts of a sort key because neither a token nor an email can hold one,
so two items never collide. Every item is owned by one contacts-table item (tenant, email):
the stream orders that item's changes, which keeps the index writer simple (see services/search_index.py).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.repository.aws import client
from chalicelib.repository.batch import Deadline, WriteRequest, batch_write
from chalicelib.repository.contacts import membership_pk
from chalicelib.repository.models import ContactItem, MembershipItem

SortField = Literal["createdAt", "updatedAt", "email"]
INDEXED_SORTS: tuple[SortField, ...] = ("createdAt", "updatedAt")
# 4 partition keys per sort order: a single key takes ~1,000 writes/s, and a bulk load
# of one tenant writes up to a few thousand contacts/s (docs/search.md, "Sharding").
SORT_SHARDS = 4
SEPARATOR = " "

ItemKey = tuple[str, str]  # (pk, sk)


def _table() -> str:
    return MembershipItem.Meta.table_name


def word_pk(tenant_id: str, token: str) -> str:
    return f"{tenant_id}#w#{token[0]}"


def sort_pk(tenant_id: str, field: str, shard: int) -> str:
    return f"{tenant_id}#s#{field}#{shard}"


def shard_of(value: str, shards: int = SORT_SHARDS) -> int:
    """A stable shard for a key (crc32, the same in every process, unlike `hash`); the changes feed uses it too."""
    return zlib.crc32(value.encode()) % shards


@dataclass(frozen=True)
class IndexedContact:
    """What the index stores about one contact item: its key, id, sort values and words."""

    tenant_id: str
    email: str
    contact_id: str
    created_at: str
    updated_at: str
    tokens: frozenset[str]

    def items(self) -> dict[ItemKey, dict[str, Any]]:
        """Every index item of this contact, by key, as raw DynamoDB attribute maps."""
        common = {"id": {"S": self.contact_id}, "email": {"S": self.email}}
        found: dict[ItemKey, dict[str, Any]] = {}
        for token in self.tokens:
            key = (word_pk(self.tenant_id, token), f"{token}{SEPARATOR}{self.email}")
            found[key] = {"pk": {"S": key[0]}, "sk": {"S": key[1]}, **common, "c": {"S": self.created_at}}
        shard = shard_of(self.email)
        for field, value in (("createdAt", self.created_at), ("updatedAt", self.updated_at)):
            key = (sort_pk(self.tenant_id, field, shard), f"{value}{SEPARATOR}{self.email}")
            found[key] = {"pk": {"S": key[0]}, "sk": {"S": key[1]}, **common}
        return found


def write(puts: Iterable[dict[str, Any]], deletes: Iterable[ItemKey], deadline: Deadline | None = None) -> int:
    """Put and delete index items with batch writes (retried, see batch.py); answer how many requests were sent.

    A key must not be both put and deleted (BatchWriteItem refuses duplicate keys).
    """
    table = _table()
    requests: list[WriteRequest] = [
        (table, {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}) for pk, sk in deletes
    ]
    requests += [(table, {"PutRequest": {"Item": item}}) for item in puts]
    batch_write(requests, deadline)
    return len(requests)


@dataclass(frozen=True)
class Posting:
    """A contact found under a word: where to load it, and its creation time for sorting."""

    email: str
    contact_id: str
    created_at: str


# Postings a search reads before it knows how broad a word is: most words (names, addresses)
# have fewer, and their search costs this one small Query.
PROBE_POSTINGS = 200


def _postings_query(tenant_id: str, prefix: str, limit: int, start: dict[str, Any] | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": word_pk(tenant_id, prefix)}, ":prefix": {"S": prefix}},
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = start
    return request


def _read_postings(
    tenant_id: str, prefix: str, at_most: int, found: list[Posting], start: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Read postings into `found` from `start` until the word ends or `at_most` + 1 are in; answer where it stopped."""
    while True:
        answer = client("dynamodb").query(**_postings_query(tenant_id, prefix, at_most + 1 - len(found), start))
        found += [Posting(raw["email"]["S"], raw["id"]["S"], raw["c"]["S"]) for raw in answer["Items"]]
        start = answer.get("LastEvaluatedKey")
        if not start or len(found) > at_most:
            return start


def _more_than(tenant_id: str, prefix: str, start: dict[str, Any], wanted: int) -> bool:
    """Whether at least `wanted` postings follow `start`, counted with Select=COUNT (nothing is transferred)."""
    counted = 0
    while start and counted < wanted:
        request = {**_postings_query(tenant_id, prefix, wanted - counted, start), "Select": "COUNT"}
        answer = client("dynamodb").query(**request)
        counted += answer["Count"]
        start = answer.get("LastEvaluatedKey")
    return counted >= wanted


def postings(tenant_id: str, prefix: str, at_most: int) -> list[Posting] | None:
    """Postings of every token starting with `prefix`, or None when there are more than `at_most` (a broad word).

    A word under at most PROBE_POSTINGS contacts costs one Query. Past that, a Select=COUNT
    Query counts the rest up to `at_most` + 1 without transferring them: a broad word is
    known without reading its postings, and only a selective word's are read. So a search
    never transfers more than about max(PROBE_POSTINGS, at_most) postings; it may read
    (in read units) up to 2 * `at_most`.
    """
    found: list[Posting] = []
    start = _read_postings(tenant_id, prefix, min(PROBE_POSTINGS, at_most), found, None)
    if len(found) > at_most:
        return None
    if start is None:
        return found
    if _more_than(tenant_id, prefix, start, at_most + 1 - len(found)):
        return None
    _read_postings(tenant_id, prefix, at_most, found, start)
    return None if len(found) > at_most else found


@dataclass(frozen=True)
class SortEntry:
    """One contact in a sort order: `position` is its place ("<value> <email>"), comparable as a string."""

    position: str
    email: str
    contact_id: str


def _query_pages(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Items of a Query, page after page, only as far as the caller reads."""
    while True:
        answer = client("dynamodb").query(**request)
        yield from answer["Items"]
        start = answer.get("LastEvaluatedKey")
        if not start:
            return
        request = {**request, "ExclusiveStartKey": start}


def _shard_stream(pk: str, descending: bool, after: str | None, page_size: int) -> Iterator[SortEntry]:
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ScanIndexForward": not descending,
        "Limit": page_size,
    }
    if after is not None:
        request["KeyConditionExpression"] += " AND sk < :after" if descending else " AND sk > :after"
        request["ExpressionAttributeValues"][":after"] = {"S": after}
    for raw in _query_pages(request):
        yield SortEntry(raw["sk"]["S"], raw["email"]["S"], raw["id"]["S"])


def sort_stream(
    tenant_id: str, field: SortField, descending: bool, after: str | None, page_size: int
) -> Iterator[SortEntry]:
    """The tenant's contacts in `field` order (createdAt or updatedAt) after a position, merged across shards.

    Each shard is read lazily, `page_size` items a Query, so a page costs SORT_SHARDS Queries to start.
    """
    streams = [
        _shard_stream(sort_pk(tenant_id, field, shard), descending, after, page_size) for shard in range(SORT_SHARDS)
    ]
    return heapq.merge(*streams, key=lambda entry: entry.position, reverse=descending)


def _contact_query(pk_value: str, descending: bool, after: str | None, page_size: int) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": ContactItem.Meta.table_name,
        "KeyConditionExpression": "tenantId = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk_value}},
        "ScanIndexForward": not descending,
        "Limit": page_size,
        "ConsistentRead": True,
    }
    if after is not None:
        request["KeyConditionExpression"] += " AND email < :after" if descending else " AND email > :after"
        request["ExpressionAttributeValues"][":after"] = {"S": after}
    return request


def contacts_by_email(tenant_id: str, descending: bool, after: str | None, page_size: int) -> Iterator[ContactItem]:
    """Every contact of a tenant (archived too) in email order after `after`, straight from the contacts table."""
    for raw in _query_pages(_contact_query(tenant_id, descending, after, page_size)):
        yield ContactItem.from_raw_data(raw)


def members_by_email(
    tenant_id: str, membership: str, descending: bool, after: str | None, page_size: int
) -> Iterator[SortEntry]:
    """Members of one tag or group ("tag#x", "group#id") in email order, from the membership index."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": membership_pk(tenant_id, membership)}},
        "ScanIndexForward": not descending,
        "Limit": page_size,
        "ConsistentRead": True,
    }
    if after is not None:
        request["KeyConditionExpression"] += " AND sk < :after" if descending else " AND sk > :after"
        request["ExpressionAttributeValues"][":after"] = {"S": after}
    for raw in _query_pages(request):
        yield SortEntry(raw["sk"]["S"], raw["sk"]["S"], raw["id"]["S"])


def index_item_keys(tenant_id: str) -> set[ItemKey]:
    """Every index item of a tenant (a scan: tests and the rebuild check only, never a request path)."""
    keys: set[ItemKey] = set()
    prefixes = (f"{tenant_id}#w#", f"{tenant_id}#s#")
    for page in client("dynamodb").get_paginator("scan").paginate(TableName=_table()):
        for raw in page["Items"]:
            if raw["pk"]["S"].startswith(prefixes):
                keys.add((raw["pk"]["S"], raw["sk"]["S"]))
    return keys
