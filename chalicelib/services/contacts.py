"""Single-contact CRUD, tags, listing and search."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.repository import bulk as bulk_repo
from chalicelib.repository import contacts as repo
from chalicelib.repository import groups as groups_repo
from chalicelib.repository.batch import Deadline
from chalicelib.repository.bulk import ContactChange
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.common import MAX_TAGS, Deleted
from chalicelib.schemas.contacts import (
    Contact,
    ContactCreate,
    ContactFields,
    ContactPage,
    ContactPatch,
    ListQuery,
    SearchBody,
)
from chalicelib.schemas.events import Actor, EventType
from chalicelib.services import activity, counters, cursors, events
from chalicelib.services.auth import Principal

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
# A filtered listing reads at most this many contacts per request, then answers a
# (possibly short) page with a cursor, so that a rare match cannot time the request out.
MAX_EXAMINED_PER_PAGE = 5000


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


def _conflict(reason: str) -> errors.Conflict:
    if reason == "externalId":
        return errors.Conflict("Another contact already has this externalId.")
    if reason == "version":
        return errors.Conflict("The contact was changed by another request; retry.")
    return errors.Conflict("A contact with this email already exists.")


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
        custom_fields=_merge_custom_fields(None, fields.customFields or {}),
        created_at=now,
        updated_at=now,
    )
    for name in OPTIONAL_FIELDS:
        setattr(item, PATCHABLE[name], getattr(fields, name))
    return item


def create_contact(principal: Principal, body: ContactCreate, source: str = "api") -> Contact:
    require_groups(principal, body.groupIds)
    item = new_contact_item(
        principal.tenant_id,
        body.email,
        body,
        source=source,
        subscription=body.subscription,
        tags=body.tags,
        group_ids=body.groupIds,
        now=now_iso(),
    )
    try:
        repo.create(item)
    except repo.ContactConflict as conflict:
        raise _conflict(conflict.reason) from None
    contact = to_contact(item)
    events.publish([events.contact_event("contact.created", principal.tenant_id, contact, events.actor_of(principal))])
    return contact


def _load(principal: Principal, contact_id: str) -> ContactItem:
    item = repo.get_by_id(principal.tenant_id, contact_id)
    if item is None:
        raise errors.NotFound("No such contact.")
    return item


def get_contact(principal: Principal, contact_id: str) -> Contact:
    return to_contact(_load(principal, contact_id))


def _modify(
    principal: Principal,
    contact_id: str,
    change: Callable[[ContactItem], None],
    event_type: EventType = "contact.updated",
) -> ContactItem:
    def load() -> ContactItem:
        return _load(principal, contact_id)

    return modify_contact(principal.tenant_id, load, change, events.actor_of(principal), event_type)


def modify_contact(
    tenant_id: str,
    load: Callable[[], ContactItem],
    change: Callable[[ContactItem], None],
    actor: Actor,
    event_type: EventType = "contact.updated",
    **event_data: Any,
) -> ContactItem:
    """Read, change a copy, write it back conditioned on the version read; re-read on a race.

    A write that happened publishes `event_type` with the changed fields, their old
    and new values and `event_data`; a change that changes nothing writes and publishes nothing.
    """
    for attempt in range(MAX_VERSION_RETRIES):
        if attempt:
            # Racing writers retry at random moments so that they do not collide again in lockstep.
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
        old = load()
        new = ContactItem.from_raw_data(old.serialize())
        change(new)
        if new.serialize() == old.serialize():
            return old  # nothing changes, nothing is written
        new.updated_at = now_iso()
        try:
            if new.email != old.email or new.external_id != old.external_id:
                repo.replace(old, new)
            else:
                repo.save(new)
                repo.sync_memberships(old, new)
            event = events.contact_change_event(
                event_type, tenant_id, to_contact(old), to_contact(new), actor, **event_data
            )
            events.publish([event])
            return new
        except repo.ContactConflict as conflict:
            if conflict.reason != "version":
                raise _conflict(conflict.reason) from None
    raise _conflict("version")


def _apply_patch(patch: ContactPatch) -> Callable[[ContactItem], None]:
    def change(item: ContactItem) -> None:
        for name in patch.model_fields_set:
            value = getattr(patch, name)
            if value is None and name in NOT_NULLABLE:
                raise errors.ValidationFailed(
                    "The contact is not valid.", details=[{"field": name, "message": "may not be null"}]
                )
            if name in PATCHABLE:
                setattr(item, PATCHABLE[name], value)
            elif name == "tags":
                item.tags = set(value or ()) or None
            elif name == "groupIds":
                item.group_ids = set(value or ()) or None
            elif name == "customFields":
                item.custom_fields = _merge_custom_fields(item.custom_fields, value)

    return change


def _merge_custom_fields(stored: dict[str, Any] | None, patch: dict[str, Any] | None) -> dict[str, Any] | None:
    """`customFields: null` clears them all; otherwise keys merge and a key set to null is removed."""
    if patch is None:
        return None
    merged = {**(stored or {}), **patch}
    return {key: value for key, value in merged.items() if value is not None} or None


def update_contact(principal: Principal, contact_id: str, patch: ContactPatch) -> Contact:
    if patch.groupIds:
        require_groups(principal, patch.groupIds)
    return to_contact(_modify(principal, contact_id, _apply_patch(patch)))


def archive_contact(principal: Principal, contact_id: str) -> Deleted:
    def archive(item: ContactItem) -> None:
        item.deleted_at = item.deleted_at or now_iso()

    _modify(principal, contact_id, archive, "contact.deleted")
    return Deleted(id=contact_id)


def restore_contact(principal: Principal, contact_id: str) -> Contact:
    def restore(item: ContactItem) -> None:
        item.deleted_at = None

    return to_contact(_modify(principal, contact_id, restore, "contact.restored"))


def erase_contact(principal: Principal, contact_id: str) -> Deleted:
    item = _load(principal, contact_id)
    repo.delete_permanently(item)
    activity.erase_activity(principal.tenant_id, contact_id)
    event = events.contact_event(
        "contact.deleted", principal.tenant_id, to_contact(item), events.actor_of(principal), permanent=True
    )
    events.publish([event])
    return Deleted(id=contact_id, permanent=True)


def add_tags(principal: Principal, contact_id: str, tags: list[str]) -> Contact:
    def add(item: ContactItem) -> None:
        merged = set(item.tags or ()) | set(tags)
        if len(merged) > MAX_TAGS:
            raise errors.ValidationFailed(
                f"A contact carries at most {MAX_TAGS} tags.", details=[{"field": "tags", "message": "too many tags"}]
            )
        item.tags = merged

    return to_contact(_modify(principal, contact_id, add))


def remove_tags(principal: Principal, contact_id: str, tags: list[str]) -> Contact:
    def remove(item: ContactItem) -> None:
        item.tags = (set(item.tags or ()) - set(tags)) or None

    return to_contact(_modify(principal, contact_id, remove))


@dataclass
class ContactFilter:
    text: str | None = None
    status: str | None = None
    subscription: str | None = None
    tags: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)

    def matches(self, item: ContactItem) -> bool:
        if item.deleted_at is not None:
            return False
        if self.status is not None and item.status != self.status:
            return False
        if self.subscription is not None and item.subscription != self.subscription:
            return False
        if not set(self.tags) <= set(item.tags or ()):
            return False
        if not set(self.group_ids) <= set(item.group_ids or ()):
            return False
        stored = item.custom_fields or {}
        if any(stored.get(key) != value for key, value in self.custom_fields.items()):
            return False
        if self.text:
            needle = self.text.lower()
            haystack = (item.email, item.first_name, item.last_name, item.company)
            return any(needle in value.lower() for value in haystack if value)
        return True

    def listing(self) -> str:
        """Which index the listing walks: a membership partition when one narrows it, else the tenant."""
        if self.tags:
            return f"tag#{self.tags[0]}"
        if self.group_ids:
            return f"group#{self.group_ids[0]}"
        return "all"


def _source(tenant_id: str, listing: str, after: str | None) -> Iterator[ContactItem]:
    if listing == "all":
        return repo.iter_tenant(tenant_id, after)
    return repo.iter_members(tenant_id, listing, after)


def _page(principal: Principal, where: ContactFilter, limit: int, cursor: str | None) -> ContactPage:
    listing = where.listing()
    after = cursors.decode(cursor, principal.tenant_id, listing)
    found: list[ContactItem] = []
    last_examined: str | None = None
    candidates: Iterable[ContactItem] = _source(principal.tenant_id, listing, after)
    for examined, item in enumerate(candidates, start=1):
        last_examined = item.email
        if where.matches(item):
            if len(found) == limit:  # one more match exists: there is a next page
                return ContactPage(
                    data=[to_contact(i) for i in found],
                    nextCursor=cursors.encode(principal.tenant_id, listing, found[-1].email),
                )
            found.append(item)
        if examined >= MAX_EXAMINED_PER_PAGE and last_examined is not None:
            # Everything up to last_examined was looked at, so the next page starts after it.
            return ContactPage(
                data=[to_contact(i) for i in found],
                nextCursor=cursors.encode(principal.tenant_id, listing, last_examined),
            )
    return ContactPage(data=[to_contact(i) for i in found], nextCursor=None)


def list_contacts(principal: Principal, query: ListQuery) -> ContactPage:
    where = ContactFilter(
        text=query.search,
        status=query.status,
        subscription=query.subscription,
        tags=[query.tag] if query.tag else [],
        group_ids=[query.group] if query.group else [],
    )
    page = _page(principal, where, query.limit, query.cursor)
    return counters.with_total(principal.tenant_id, page, query) if query.includeTotal else page  # totals


def search_contacts(principal: Principal, body: SearchBody) -> ContactPage:
    filters = body.filters
    where = ContactFilter(
        text=body.query,
        status=filters.status,
        subscription=filters.subscription,
        tags=filters.tags,
        group_ids=filters.groupIds,
        custom_fields=filters.customFields,
    )
    page = _page(principal, where, body.limit, body.cursor)
    return counters.with_total(principal.tenant_id, page, body) if body.includeTotal else page  # totals


def require_groups(principal: Principal, group_ids: list[str]) -> None:
    """422 unless every id is a group of this tenant (another tenant's group is as unknown as none)."""
    unknown = sorted(set(group_ids) - groups_repo.existing_ids(principal.tenant_id, group_ids))
    if unknown:
        raise errors.ValidationFailed(
            "Unknown group ids.", details=[{"field": "groupIds", "message": f"no such group: {g}"} for g in unknown]
        )


def add_groups(principal: Principal, contact_id: str, group_ids: list[str]) -> Contact:
    require_groups(principal, group_ids)

    def add(item: ContactItem) -> None:
        item.group_ids = set(item.group_ids or ()) | set(group_ids)

    return to_contact(_modify(principal, contact_id, add))


def remove_groups(principal: Principal, contact_id: str, group_ids: list[str]) -> Contact:
    def remove(item: ContactItem) -> None:
        item.group_ids = (set(item.group_ids or ()) - set(group_ids)) or None

    return to_contact(_modify(principal, contact_id, remove))


def publish_changes(
    tenant_id: str,
    actor: Actor,
    changes: Iterable[tuple[ContactItem | None, ContactItem]],
    origin: str | None = None,
    **created_data: Any,
) -> None:
    """One event per written contact: `contact.created` (with `created_data`) or `contact.updated`, in one publish.

    `origin` ("bulk") says which route made the change; the activity timeline shows it as the source.
    """
    common = {"origin": origin} if origin else {}
    batch = []
    for before, after in changes:
        if before is None:
            created = events.contact_event(
                "contact.created", tenant_id, to_contact(after), actor, **common, **created_data
            )
            batch.append(created)
        else:
            updated = events.contact_change_event(
                "contact.updated", tenant_id, to_contact(before), to_contact(after), actor, **common
            )
            batch.append(updated)
    events.publish(batch)


K = TypeVar("K", bound=Hashable)


def store_changes(
    principal: Principal,
    changes: Mapping[K, ContactChange],
    deadline: Deadline,
    origin: str | None = None,
    **created_data: Any,
) -> set[K]:
    """Batch-write many contact changes, publish events for those that landed; answer the keys that did not."""
    return store_changes_as(principal.tenant_id, events.actor_of(principal), changes, deadline, origin, **created_data)


def store_changes_as(
    tenant_id: str,
    actor: Actor,
    changes: Mapping[K, ContactChange],
    deadline: Deadline,
    origin: str | None = None,
    **created_data: Any,
) -> set[K]:
    """`store_changes` for a write no API key made (the schedule, subscribe): events carry `actor`."""
    failed = bulk_repo.write_contacts(changes, deadline)
    written = [(change.old, change.new) for key, change in changes.items() if key not in failed]
    publish_changes(tenant_id, actor, written, origin, **created_data)
    return failed
