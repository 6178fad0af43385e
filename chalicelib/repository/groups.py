"""Groups in the meta table, their public id -> tenant lookup, and member counts from the membership index."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.transactions import TransactWrite

from chalicelib.clock import now_iso
from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.aws import client
from chalicelib.repository.batch import Deadline, backoff, batch_get, is_throttle
from chalicelib.repository.contacts import _connection, group_membership, membership_pk
from chalicelib.repository.models import ContactItem, GroupItem, GroupLookupItem, MembershipItem

LOOKUP_SK = "GROUP"


def group_sk(group_id: str) -> str:
    return f"GROUP#{group_id}"


def lookup_pk(group_id: str) -> str:
    return f"GROUP#{group_id}"


def new_group(tenant_id: str, group_id: str, **attributes: Any) -> GroupItem:
    """A group not yet stored, keyed under its tenant."""
    return GroupItem(tenant_pk(tenant_id), group_sk(group_id), group_id=group_id, **attributes)


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
        "ExpressionAttributeValues": {":pk": {"S": membership_pk(tenant_id, group_membership(group_id))}},
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


# Membership changes: each contact's groupIds and its membership index entry change together, in one
# transaction, conditioned on the contact's current state. Read-modify-write of the whole contact (what
# bulk writes do) would let two concurrent attaches of one contact each overwrite the other's group.

TRANSACTION_CONTACTS = 50  # two actions per contact; DynamoDB takes at most 100 actions per transaction


@dataclass
class MembershipOutcome:
    """What became of each contact (by email) asked to join or leave a group."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already a member (attach) / no longer one (detach)
    gone: list[str] = field(default_factory=list)  # deleted, or its email now holds another contact
    pending: list[str] = field(default_factory=list)  # not written before the deadline


def attach_contacts(
    tenant_id: str, group_id: str, contacts: Iterable[ContactItem], change_note: dict[str, Any], deadline: Deadline
) -> MembershipOutcome:
    """Add the group to each contact (unless it has it) and its index entry, atomically per contact.

    The contact's `version` goes up by one, so a single-contact write that read it before fails its
    condition and re-reads instead of dropping the group.
    """
    return _change_memberships(tenant_id, group_id, list(contacts), change_note, deadline, joining=True)


def detach_contacts(
    tenant_id: str, group_id: str, contacts: Iterable[ContactItem], change_note: dict[str, Any], deadline: Deadline
) -> MembershipOutcome:
    """Remove the group from each contact (if it has it) and delete its index entry, atomically per contact."""
    return _change_memberships(tenant_id, group_id, list(contacts), change_note, deadline, joining=False)


def _membership_actions(
    tenant_id: str, group_id: str, contact: ContactItem, now: str, change_note: str, joining: bool
) -> list[Any]:
    # The `lastChange` note rides on the same write, so the relay's event says who changed the membership.
    if joining:
        update = "ADD groupIds :group, #version :one SET updatedAt = :now, lastChange = :note"
        condition = "#id = :id AND (attribute_not_exists(groupIds) OR NOT contains(groupIds, :groupId))"
    else:
        update = "DELETE groupIds :group ADD #version :one SET updatedAt = :now, lastChange = :note"
        condition = "#id = :id AND contains(groupIds, :groupId)"
    contact_update = {
        "Update": {
            "TableName": ContactItem.Meta.table_name,
            "Key": {"tenantId": {"S": tenant_id}, "email": {"S": contact.email}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#id": "id", "#version": "version"},
            "ExpressionAttributeValues": {
                ":group": {"SS": [group_id]},
                ":groupId": {"S": group_id},
                ":one": {"N": "1"},
                ":now": {"S": now},
                ":note": {"S": change_note},
                ":id": {"S": contact.contact_id},
            },
            # On a refusal DynamoDB tells what it found: a member already, or another contact.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    key = {"pk": {"S": membership_pk(tenant_id, group_membership(group_id))}, "sk": {"S": contact.email}}
    table = MembershipItem.Meta.table_name
    if joining:
        entry = {"Put": {"TableName": table, "Item": {**key, "id": {"S": contact.contact_id}}}}
    else:
        entry = {"Delete": {"TableName": table, "Key": key}}
    return [contact_update, entry]


def _change_memberships(
    tenant_id: str,
    group_id: str,
    contacts: list[ContactItem],
    change_note: dict[str, Any],
    deadline: Deadline,
    *,
    joining: bool,
) -> MembershipOutcome:
    outcome = MembershipOutcome()
    now = now_iso()
    note = json.dumps(change_note, separators=(",", ":"))
    for start in range(0, len(contacts), TRANSACTION_CONTACTS):
        chunk = contacts[start : start + TRANSACTION_CONTACTS]
        attempt = 0
        while chunk:
            if deadline.near():
                outcome.pending.extend(contact.email for contact in chunk)
                break
            actions = [
                a for contact in chunk for a in _membership_actions(tenant_id, group_id, contact, now, note, joining)
            ]
            try:
                client("dynamodb").transact_write_items(TransactItems=actions)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code != "TransactionCanceledException" and not is_throttle(error):
                    raise
                chunk = _settle_refusals(group_id, chunk, error.response.get("CancellationReasons") or [], outcome)
                if chunk:
                    time.sleep(backoff(attempt))
                    attempt += 1
                continue
            outcome.changed.extend(contact.email for contact in chunk)
            chunk = []
    return outcome


def _settle_refusals(
    group_id: str, chunk: list[ContactItem], reasons: list[dict[str, Any]], outcome: MembershipOutcome
) -> list[ContactItem]:
    """Classify the contacts whose condition failed; answer the rest, to be sent again.

    A cancelled transaction writes nothing; the others in it (reason "None", a conflict with another
    transaction, throttling) are retried.
    """
    retry: list[ContactItem] = []
    for index, contact in enumerate(chunk):
        reason = reasons[2 * index] if 2 * index < len(reasons) else {}
        if reason.get("Code") != "ConditionalCheckFailed":
            retry.append(contact)
            continue
        found = reason.get("Item") or {}
        if found.get("id", {}).get("S") != contact.contact_id:
            outcome.gone.append(contact.email)
        else:
            outcome.unchanged.append(contact.email)
    return retry
