"""Groups in the meta table, their public id -> tenant lookup, and member counts from the membership index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.aws import client
from chalicelib.repository.batch import Deadline, batch_get
from chalicelib.repository.contacts import _connection, membership_pk
from chalicelib.repository.models import GroupItem, GroupLookupItem, MembershipItem

LOOKUP_SK = "GROUP"


def group_sk(group_id: str) -> str:
    return f"GROUP#{group_id}"


def lookup_pk(group_id: str) -> str:
    return f"GROUP#{group_id}"


def create(group: GroupItem, tenant_id: str) -> None:
    """The group and its public lookup item, together."""
    lookup = GroupLookupItem(lookup_pk(group.group_id), LOOKUP_SK, tenant_id=tenant_id)
    with TransactWrite(connection=_connection()) as tx:
        tx.save(group, condition=GroupItem.pk.does_not_exist())
        tx.save(lookup, condition=GroupLookupItem.pk.does_not_exist())


def save(group: GroupItem) -> None:
    group.save()


def get(tenant_id: str, group_id: str) -> GroupItem | None:
    try:
        return GroupItem.get(tenant_pk(tenant_id), group_sk(group_id), consistent_read=True)
    except GroupItem.DoesNotExist:
        return None


def find_by_public_id(group_id: str) -> tuple[str, GroupItem] | None:
    """(tenant id, group) for a bare group id, as the key-less subscribe route receives it."""
    try:
        lookup = GroupLookupItem.get(lookup_pk(group_id), LOOKUP_SK, consistent_read=True)
    except GroupLookupItem.DoesNotExist:
        return None
    group = get(lookup.tenant_id, group_id)
    return (lookup.tenant_id, group) if group is not None else None


def page(tenant_id: str, limit: int, after_sk: str | None) -> tuple[list[GroupItem], str | None]:
    """One page of the tenant's groups in id order and the sort key to continue after (None: last page)."""
    pk = tenant_pk(tenant_id)
    start = {"pk": {"S": pk}, "sk": {"S": after_sk}} if after_sk else None
    results = GroupItem.query(
        pk, GroupItem.sk.startswith("GROUP#"), limit=limit, last_evaluated_key=start, consistent_read=True
    )
    groups = list(results)
    last = results.last_evaluated_key
    return groups, (last["sk"]["S"] if last and len(groups) == limit else None)


def existing_ids(tenant_id: str, group_ids: Iterable[str]) -> set[str]:
    """Which of these ids are groups of this tenant (one BatchGetItem per 100 ids)."""
    table = GroupItem.Meta.table_name
    pk = tenant_pk(tenant_id)
    keys = [(table, {"pk": {"S": pk}, "sk": {"S": group_sk(g)}}) for g in set(group_ids)]
    return {raw["groupId"]["S"] for _, raw in batch_get(keys, Deadline())}


def delete(tenant_id: str, group_id: str) -> None:
    with TransactWrite(connection=_connection()) as tx:
        tx.delete(GroupItem(tenant_pk(tenant_id), group_sk(group_id)))
        tx.delete(GroupLookupItem(lookup_pk(group_id), LOOKUP_SK))


def count_members(tenant_id: str, group_id: str) -> int:
    """Entries in the group's membership partition, counted by DynamoDB (Select=COUNT), never a tenant scan."""
    request: dict[str, Any] = {
        "TableName": MembershipItem.Meta.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": membership_pk(tenant_id, f"group#{group_id}")}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    total = 0
    while True:
        answer = client("dynamodb").query(**request)
        total += int(answer.get("Count", 0))
        if not answer.get("LastEvaluatedKey"):
            return total
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
