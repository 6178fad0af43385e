"""The per-tenant tag catalog: one memberships-table item per tag that ever gained a member.

pk "<tenant>#tags", sk = the tag. Writers put the entry (idempotently) whenever a
tag gains a member, so rotation finds "the greatest tag starting with a prefix"
with one Query (begins_with, descending) instead of scanning contacts.
Entries are not removed when a tag loses its last member (a concurrent writer
could be adding one); readers check `has_members`. Rotation deletes the entries
of the tags it expired.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib.repository.aws import client
from chalicelib.repository.batch import WriteRequest
from chalicelib.repository.models import MembershipItem

_TAG_MARK = "#tag#"


def catalog_pk(tenant_id: str) -> str:
    return f"{tenant_id}#tags"


def catalog_puts(requests: Iterable[WriteRequest]) -> list[WriteRequest]:
    """Catalog puts for every tag that gains a member in these membership requests, each tag once."""
    table = MembershipItem.Meta.table_name
    seen: set[tuple[str, str]] = set()
    puts: list[WriteRequest] = []
    for request_table, body in requests:
        put = body.get("PutRequest")
        if request_table != table or put is None:
            continue
        tenant_id, mark, tag = put["Item"]["pk"]["S"].partition(_TAG_MARK)
        if not mark or (tenant_id, tag) in seen:
            continue
        seen.add((tenant_id, tag))
        puts.append((table, {"PutRequest": {"Item": {"pk": {"S": catalog_pk(tenant_id)}, "sk": {"S": tag}}}}))
    return puts


def tags_with_prefix(tenant_id: str, prefix: str, *, descending: bool) -> Iterator[str]:
    """The catalog's tags starting with `prefix`, greatest first when `descending` (one paged Query)."""
    request: dict[str, Any] = {
        "TableName": MembershipItem.Meta.table_name,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": catalog_pk(tenant_id)}, ":prefix": {"S": prefix}},
        "ScanIndexForward": not descending,
        "ConsistentRead": True,
        "ProjectionExpression": "sk",
    }
    while True:
        answer = client("dynamodb").query(**request)
        for item in answer.get("Items", []):
            yield item["sk"]["S"]
        if "LastEvaluatedKey" not in answer:
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def has_members(tenant_id: str, tag: str) -> bool:
    answer = client("dynamodb").query(
        TableName=MembershipItem.Meta.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{tenant_id}{_TAG_MARK}{tag}"}},
        ConsistentRead=True,
        Limit=1,
        ProjectionExpression="sk",
    )
    return bool(answer.get("Items"))


def forget(tenant_id: str, tag: str) -> None:
    client("dynamodb").delete_item(
        TableName=MembershipItem.Meta.table_name, Key={"pk": {"S": catalog_pk(tenant_id)}, "sk": {"S": tag}}
    )
