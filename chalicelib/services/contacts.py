"""Single-contact CRUD, tags, listing and search."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib import errors, observability
from chalicelib.clock import now_iso
from chalicelib.repository import contacts as repo
from chalicelib.repository import groups as groups_repo
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.common import MAX_TAGS, Deleted
from chalicelib.schemas.contacts import (
    Contact,
    ContactCreate,
    ContactPage,
    ContactPatch,
    ListQuery,
    SearchBody,
)
from chalicelib.schemas.events import EventType
from chalicelib.services import activity, counters, cursors, events
from chalicelib.services.auth import Principal
from chalicelib.services.contact_writes import (
    NOT_NULLABLE,
    PATCHABLE,
    conflict,
    merge_custom_fields,
    modify_contact,
    new_contact_item,
    note,
    renderable,
    to_contact,
)
from chalicelib.services.contact_writes import create as create_item
from chalicelib.services.contact_writes import erase as erase_item

log = logging.getLogger(__name__)

# A filtered listing reads at most this many contacts per request, then answers a
# (possibly short) page with a cursor, so that a rare match cannot time the request out.
MAX_EXAMINED_PER_PAGE = 5000


def render_items(tenant_id: str, items: Iterable[ContactItem]) -> tuple[list[Contact], list[str]]:
    """Contacts for a listing, and the ids of those that cannot be rendered (logged, left out)."""
    shown: list[Contact] = []
    broken: list[str] = []
    for item in items:
        try:
            shown.append(renderable(item))
        except errors.ValidationFailed:
            log.exception(
                "contact %s of tenant %s cannot be rendered; left out of the listing", item.contact_id, tenant_id
            )
            broken.append(item.contact_id)
    return shown, broken


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
    contact = renderable(item)
    try:
        create_item(item, note("contact.created", events.actor_of(principal)))
    except repo.ContactConflict as refused:
        raise conflict(refused.reason) from None
    observability.count("ContactsWritten")
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

    return modify_contact(load, change, note(event_type, events.actor_of(principal)))


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
                # `customFields: null` clears them all; an object merges (a key set to null is removed).
                item.custom_fields = None if value is None else merge_custom_fields(item.custom_fields, value)

    return change


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
    erase_item(lambda: _load(principal, contact_id), events.actor_of(principal))
    # The relay erases the timeline again when the deletion's event comes (at least once); this
    # makes it vanish at once for the caller.
    activity.erase_activity(principal.tenant_id, contact_id)
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


def _rendered_page(principal: Principal, items: list[ContactItem], cursor: str | None) -> ContactPage:
    shown, broken = render_items(principal.tenant_id, items)
    return ContactPage(data=shown, nextCursor=cursor, unrenderableIds=broken)


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
                return _rendered_page(principal, found, cursors.encode(principal.tenant_id, listing, found[-1].email))
            found.append(item)
        if examined >= MAX_EXAMINED_PER_PAGE and last_examined is not None:
            # Everything up to last_examined was looked at, so the next page starts after it.
            return _rendered_page(principal, found, cursors.encode(principal.tenant_id, listing, last_examined))
    return _rendered_page(principal, found, None)


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
