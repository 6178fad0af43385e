"""The contact write engine every write path shares: new items, copy-and-change, conditional and batch writes.

Each write stores the contact together with its `lastChange` note (who acted, through
which route, what the write means): the relay derives the domain events from the
contacts table's stream, so no write path talks to SQS (see docs/webhooks.md).
Whether a write changes anything is `contact_changes.changed_fields`, the one rule.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from chalicelib import errors, observability
from chalicelib.clock import now_iso
from chalicelib.repository import bulk as bulk_repo
from chalicelib.repository import contacts as repo
from chalicelib.repository.batch import BatchIncomplete, Deadline
from chalicelib.repository.bulk import ContactChange
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.contacts import Contact, ContactFields
from chalicelib.schemas.events import Actor, EventType, LastChange
from chalicelib.services.contact_changes import changed_fields

# Fields a PATCH may set, by their API name and the item attribute they map to.
PATCHABLE = {
    "email": "email",
    "firstName": "first_name",
    "lastName": "last_name",
    "company": "company",
    "jobTitle": "job_title",
    "phone": "phone",
    "website": "website",
    "status": "status",
    "subscription": "subscription",
    "externalId": "external_id",
}
NOT_NULLABLE = {"email", "subscription"}
# The optional string fields every contact body may carry (ContactFields), by API name.
OPTIONAL_FIELDS = ("firstName", "lastName", "company", "jobTitle", "phone", "website", "status", "externalId")
MAX_VERSION_RETRIES = 8

K = TypeVar("K", bound=Hashable)


def to_contact(item: ContactItem) -> Contact:
    return Contact(
        id=item.contact_id,
        email=item.email,
        firstName=item.first_name,
        lastName=item.last_name,
        company=item.company,
        jobTitle=item.job_title,
        phone=item.phone,
        website=item.website,
        status=item.status,
        subscription=item.subscription,  # type: ignore[arg-type]
        externalId=item.external_id,
        source=item.source,
        tags=sorted(item.tags or ()),
        groupIds=sorted(item.group_ids or ()),
        customFields=item.custom_fields or {},
        createdAt=item.created_at,
        updatedAt=item.updated_at,
        deletedAt=item.deleted_at,
    )


def renderable(item: ContactItem) -> Contact:
    """The contact as the API shows it, or ValidationFailed when it could not be shown.

    Writes call it before writing: an answer that says "error" must mean nothing was written.
    """
    try:
        contact = to_contact(item)
        contact.model_dump_json()
    except ValueError as error:  # pydantic's validation and serialisation errors are ValueErrors
        raise errors.ValidationFailed(
            "The contact could not be stored as sent.", details=[{"field": "body", "message": str(error)[:200]}]
        ) from None
    return contact


def conflict(reason: str) -> errors.Conflict:
    if reason == "externalId":
        return errors.Conflict("Another contact already has this externalId.")
    if reason == "version":
        return errors.Conflict("The contact was changed by another request; retry.")
    return errors.Conflict("A contact with this email already exists.")


def merge_custom_fields(stored: dict[str, Any] | None, patch: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keys merge and a key sent as null is removed; no patch (None) leaves them alone.

    (`customFields: null` in a PATCH clears them all: that is the PATCH's own rule, not a merge.)
    """
    if patch is None:
        return stored
    merged = {**(stored or {}), **patch}
    return {key: value for key, value in merged.items() if value is not None} or None


def copy_item(item: ContactItem) -> ContactItem:
    """A detached copy: changing it leaves `item` (the state read) as it was."""
    return item.copy()


def changed_copy(item: ContactItem, change: Callable[[ContactItem], None]) -> ContactItem:
    """A copy of `item` with `change` applied (the original stays as read, to compare and condition on)."""
    copy = copy_item(item)
    change(copy)
    return copy


def new_contact_item(
    tenant_id: str,
    email: str,
    fields: ContactFields,
    *,
    source: str,
    subscription: str,
    tags: Iterable[str],
    group_ids: Iterable[str],
    now: str,
) -> ContactItem:
    """A contact about to be created, with a new id, from the optional fields of a request body."""
    item = ContactItem(
        tenant_id,
        email,
        contact_id=str(uuid.uuid4()),
        source=source,
        subscription=subscription,
        tags=set(tags) or None,
        group_ids=set(group_ids) or None,
        custom_fields=merge_custom_fields(None, fields.customFields or None),
        created_at=now,
        updated_at=now,
    )
    for name in OPTIONAL_FIELDS:
        setattr(item, PATCHABLE[name], getattr(fields, name))
    return item


def note(type: EventType, actor: Actor, **fields: Any) -> LastChange:
    """The `lastChange` a write stores: `fields` are origin, eventKey, groupId, formType."""
    return LastChange(type=type, actor=actor, **fields)


def _stamp(old: ContactItem | None, new: ContactItem, written: dict[str, Any]) -> None:
    """Put the note on the item; an email change also carries the contact as it was (the relay diffs it)."""
    if old is not None and old.email != new.email:
        previous = old.serialize()
        previous.pop("lastChange", None)
        written = {**written, "previous": previous}
    new.last_change = written


def note_dump(change_note: LastChange) -> dict[str, Any]:
    return change_note.model_dump(mode="json", exclude_none=True)


def create(item: ContactItem, change_note: LastChange) -> None:
    """Store a new contact with its pointers; ContactConflict when its email or externalId is taken."""
    item.last_change = note_dump(change_note)
    repo.create(item)


def modify_contact(
    load: Callable[[], ContactItem], change: Callable[[ContactItem], None], change_note: LastChange
) -> ContactItem:
    """Read, change a copy, write it back conditioned on the version read; re-read on a race.

    A change that changes no field writes nothing (and so makes no event).
    """
    written = note_dump(change_note)
    for attempt in range(MAX_VERSION_RETRIES):
        if attempt:
            # Racing writers retry at random moments so that they do not collide again in lockstep.
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
        old = load()
        new = changed_copy(old, change)
        if not changed_fields(old, new):
            return old
        new.updated_at = now_iso()
        renderable(new)
        _stamp(old, new, written)
        try:
            if new.email != old.email or new.external_id != old.external_id:
                repo.replace(old, new)
            else:
                repo.save(new)
                repo.sync_memberships(old, new)
            observability.count("ContactsWritten")
            return new
        except repo.ContactConflict as refused:
            if refused.reason != "version":
                raise conflict(refused.reason) from None
    raise conflict("version")


def erase(load: Callable[[], ContactItem], actor: Actor) -> ContactItem:
    """Delete the contact for good. The item is first marked `erased`, so the stream's REMOVE record
    says so (an email change removes the old item too); then it is deleted with its pointers."""
    marked = note_dump(note("contact.deleted", actor, erased=True))
    for _ in range(MAX_VERSION_RETRIES):
        item = load()
        item.last_change = marked
        try:
            repo.save(item)
        except repo.ContactConflict:
            continue
        repo.delete_permanently(item)
        return item
    raise conflict("version")


def store_changes(
    tenant_id: str, changes: Mapping[K, ContactChange], deadline: Deadline, change_note: LastChange
) -> set[K]:
    """Batch-write many contact changes with their notes; answer the keys not written before the deadline.

    New contacts get the note as "contact.created" (with its eventKey); changed ones as its own type.
    """
    created = note_dump(change_note.model_copy(update={"type": "contact.created"}))
    updated = note_dump(change_note.model_copy(update={"eventKey": None}))
    for change in changes.values():
        _stamp(change.old, change.new, created if change.old is None else updated)
    return bulk_repo.write_contacts(changes, deadline)


def unavailable(left: int) -> errors.ApiError:
    return errors.Unavailable(f"{left} contacts could not be read or written in time; send the request again.")


def resolve_contacts(
    tenant_id: str, ids: Iterable[str], emails: Iterable[str], deadline: Deadline
) -> tuple[dict[str, ContactItem], int]:
    """The tenant's contacts named by ids and/or emails (union, keyed by email), and how many identifiers
    named none. Emails are matched trimmed and lower-cased, as they are stored; 503 when the reads run out
    of time."""
    id_set = set(ids)
    normalized = {email.strip().lower() for email in emails}
    try:
        by_email = bulk_repo.load_contacts(tenant_id, normalized, deadline)
        by_id = bulk_repo.load_by_ids(tenant_id, id_set, deadline)
    except BatchIncomplete as incomplete:
        raise unavailable(len(incomplete.pending)) from None
    not_found = len(id_set - by_id.keys()) + len(normalized - by_email.keys())
    return {**by_email, **{contact.email: contact for contact in by_id.values()}}, not_found
