"""Contacts read and written many at a time (bulk upsert, bulk tags, group membership), with batch calls only.

Reads are strongly consistent BatchGetItem calls; writes are BatchWriteItem
calls across the contacts, contact-keys and memberships tables. BatchWriteItem
takes no condition, so these writes are last-writer-wins per contact; each one
stores `version + 1` so that a single-contact write that read the previous
version fails its condition and re-reads instead of overwriting (see docs/bulk.md).
Bulk writes that create contacts hold the tenant's create lease (below), so that
two of them never both create one email.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pynamodb.models import Model

from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.aws import client
from chalicelib.repository.batch import (
    BatchIncomplete,
    Deadline,
    WriteRequest,
    backoff,
    batch_get,
    batch_write,
    write_in_phases,
)
from chalicelib.repository.conditional import condition_failed
from chalicelib.repository.contacts import external_key, id_key, membership_changes, membership_pk
from chalicelib.repository.models import ContactItem, ContactKeyItem, MembershipItem
from chalicelib.repository.tag_catalog import catalog_puts
from chalicelib.settings import settings

Owner = TypeVar("Owner", bound=Hashable)


@dataclass(frozen=True)
class Pointer:
    """What a contact-keys item says: the contact with this id lives at this email (if it still does)."""

    email: str
    contact_id: str


@dataclass
class ContactChange:
    """A contact as stored before (None: new) and as it must be stored now."""

    old: ContactItem | None
    new: ContactItem


def _key_names(model: type[Model]) -> tuple[str, str]:
    attributes = model.get_attributes().values()
    hash_key = next(a.attr_name for a in attributes if a.is_hash_key)
    range_key = next(a.attr_name for a in attributes if a.is_range_key)
    return hash_key, range_key


_KEY_NAMES = {model.Meta.table_name: _key_names(model) for model in (ContactItem, ContactKeyItem, MembershipItem)}


def request_identity(request: WriteRequest) -> tuple[str, str, str]:
    """(table, hash key, range key) of a write request: how an unprocessed request is traced to its owner."""
    table, body = request
    attributes = body["PutRequest"]["Item"] if "PutRequest" in body else body["DeleteRequest"]["Key"]
    hash_name, range_name = _KEY_NAMES[table]
    return table, attributes[hash_name]["S"], attributes[range_name]["S"]


def load_contacts(tenant_id: str, emails: Iterable[str], deadline: Deadline) -> dict[str, ContactItem]:
    """The tenant's contacts at these emails (missing ones are absent); BatchIncomplete near the deadline."""
    table = ContactItem.Meta.table_name
    keys = [(table, {"tenantId": {"S": tenant_id}, "email": {"S": email}}) for email in set(emails)]
    found = (ContactItem.from_raw_data(raw) for _, raw in batch_get(keys, deadline))
    return {contact.email: contact for contact in found}


def load_pointers(tenant_id: str, keys: Iterable[str], deadline: Deadline) -> dict[str, Pointer]:
    """contact-keys items ("id#..." / "ext#...") of the tenant; the caller checks them against the contact."""
    table = ContactKeyItem.Meta.table_name
    requests = [(table, {"tenantId": {"S": tenant_id}, "key": {"S": key}}) for key in set(keys)]
    return {raw["key"]["S"]: Pointer(raw["email"]["S"], raw["id"]["S"]) for _, raw in batch_get(requests, deadline)}


def load_by_ids(tenant_id: str, contact_ids: Iterable[str], deadline: Deadline) -> dict[str, ContactItem]:
    """Contacts by id: pointers first, then the contacts they point at, checked to still carry the id."""
    pointers = load_pointers(tenant_id, (id_key(i) for i in contact_ids), deadline)
    contacts = load_contacts(tenant_id, (p.email for p in pointers.values()), deadline)
    found: dict[str, ContactItem] = {}
    for pointer in pointers.values():
        contact = contacts.get(pointer.email)
        if contact is not None and contact.contact_id == pointer.contact_id:
            found[contact.contact_id] = contact
    return found


def member_emails(tenant_id: str, membership: str) -> list[str]:
    """Every email in one membership partition ("group#<id>"), stale entries included."""
    return [m.sk for m in MembershipItem.query(membership_pk(tenant_id, membership), consistent_read=True)]


def delete_memberships(tenant_id: str, membership: str, emails: Iterable[str], deadline: Deadline) -> set[str]:
    """Delete index entries; answer the emails whose entry could not be deleted before the deadline."""
    table = MembershipItem.Meta.table_name
    pk = membership_pk(tenant_id, membership)
    phase = {email: [(table, {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": email}}}})] for email in emails}
    return write_in_phases([phase], deadline, request_identity)


def _pointer_put(contact: ContactItem, key: str) -> WriteRequest:
    item = {
        "tenantId": {"S": contact.tenant_id},
        "key": {"S": key},
        "email": {"S": contact.email},
        "id": {"S": contact.contact_id},
    }
    return ContactKeyItem.Meta.table_name, {"PutRequest": {"Item": item}}


def _delete(table: str, hash_name: str, hash_value: str, range_name: str, range_value: str) -> WriteRequest:
    return table, {"DeleteRequest": {"Key": {hash_name: {"S": hash_value}, range_name: {"S": range_value}}}}


def _requests(change: ContactChange) -> tuple[list[WriteRequest], list[WriteRequest]]:
    """The writes of one contact: (pointers and new memberships, then the contact item and deletions).

    What the first list writes is harmless on its own (readers check pointers and
    memberships against the contact), so when the deadline stops the second list,
    the stored contact is still the old one and a retry of the row redoes everything.
    """
    old, new = change.old, change.new
    first: list[WriteRequest] = []
    last: list[WriteRequest] = []
    moved = old is not None and old.email != new.email
    if old is None or moved:
        first.append(_pointer_put(new, id_key(new.contact_id)))
    if new.external_id and (old is None or moved or new.external_id != old.external_id):
        first.append(_pointer_put(new, external_key(new.external_id)))
    for request in membership_changes(old, new):
        (first if "PutRequest" in request[1] else last).append(request)
    new.version = (old.version or 0) + 1 if old is not None else 1
    last.append((ContactItem.Meta.table_name, {"PutRequest": {"Item": new.serialize()}}))
    if old is not None and moved:
        last.append(_delete(ContactItem.Meta.table_name, "tenantId", old.tenant_id, "email", old.email))
    if old is not None and old.external_id and old.external_id != new.external_id:
        last.append(
            _delete(ContactKeyItem.Meta.table_name, "tenantId", old.tenant_id, "key", external_key(old.external_id))
        )
    return first, last


def write_contacts(changes: Mapping[Owner, ContactChange], deadline: Deadline) -> set[Owner]:
    """Store every change with batch writes; answer the owners whose contact was not (fully) written.

    Keys must not repeat across changes (two changes never touch one email or externalId).
    """
    first: dict[Owner, list[WriteRequest]] = {}
    last: dict[Owner, list[WriteRequest]] = {}
    for owner, change in changes.items():
        first[owner], last[owner] = _requests(change)
    # One catalog put per distinct tag gaining members, before any of them; a tag left out of the
    # catalog could not be found by rotation, so when these fail no contact adding a tag is written.
    try:
        batch_write(catalog_puts(r for requests in first.values() for r in requests), deadline)
    except BatchIncomplete:
        adding = {owner for owner, requests in first.items() if catalog_puts(requests)}
        kept = [{o: rs for o, rs in phase.items() if o not in adding} for phase in (first, last)]
        return adding | write_in_phases(kept, deadline, request_identity)
    return write_in_phases([first, last], deadline, request_identity)


# Racing creates. BatchWriteItem cannot say "only if absent", so two bulk requests that both read an
# email as free would both write a new contact there, and the last write would silently replace the
# first one's contact (and id). Bulk requests that create contacts therefore write while holding a
# per-tenant lease in the meta table; the lease item also counts the bulk writes with creates that
# finished (`generation`), so that a request learns whether anyone created contacts since it read.

CREATE_LEASE_SECONDS = 60  # longer than any API request may run; frees the tenant after a crashed holder
_LEASE_SK = "BULK_CREATE_LEASE"


@dataclass(frozen=True)
class CreateLease:
    tenant_id: str
    token: str
    generation: int  # bulk writes with creates finished before this lease was taken


def _lease_key(tenant_id: str) -> dict[str, Any]:
    return {"pk": {"S": tenant_pk(tenant_id)}, "sk": {"S": _LEASE_SK}}


def create_generation(tenant_id: str) -> int:
    """How many bulk writes with creates have finished for the tenant (read before pre-loading)."""
    found = (
        client("dynamodb")
        .get_item(TableName=settings.meta_table, Key=_lease_key(tenant_id), ConsistentRead=True)
        .get("Item", {})
    )
    return int(found.get("generation", {}).get("N", "0"))


def take_create_lease(tenant_id: str, deadline: Deadline) -> CreateLease | None:
    """Wait for the tenant's create lease and take it; None when the deadline comes first."""
    token = secrets.token_hex(16)
    attempt = 0
    while not deadline.near():
        now = time.time()
        try:
            answer = client("dynamodb").update_item(
                TableName=settings.meta_table,
                Key=_lease_key(tenant_id),
                UpdateExpression="SET holder = :token, leaseUntil = :until",
                ConditionExpression="attribute_not_exists(holder) OR leaseUntil < :now",
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":until": {"N": str(now + CREATE_LEASE_SECONDS)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            time.sleep(min(1.0, backoff(attempt) + 0.02))
            attempt += 1
            continue
        generation = int(answer["Attributes"].get("generation", {}).get("N", "0"))
        return CreateLease(tenant_id, token, generation)
    return None


def release_create_lease(lease: CreateLease) -> None:
    """Count this write and free the lease (only if still ours: a lease that ran out may have a new holder)."""
    dynamodb = client("dynamodb")
    try:
        dynamodb.update_item(
            TableName=settings.meta_table,
            Key=_lease_key(lease.tenant_id),
            UpdateExpression="ADD generation :one REMOVE holder, leaseUntil",
            ConditionExpression="holder = :token",
            ExpressionAttributeValues={":one": {"N": "1"}, ":token": {"S": lease.token}},
        )
    except ClientError as error:
        if not condition_failed(error):
            raise
        dynamodb.update_item(  # still count it, so that the new holder's peers re-read
            TableName=settings.meta_table,
            Key=_lease_key(lease.tenant_id),
            UpdateExpression="ADD generation :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
