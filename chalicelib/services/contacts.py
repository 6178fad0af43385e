"""Single-contact CRUD, tags, listing and search."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from chalicelib import errors, observability
from chalicelib.clock import now_iso
from chalicelib.repository import contacts as repo
from chalicelib.repository import groups as groups_repo
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.common import MAX_TAGS, Deleted
from chalicelib.schemas.contacts import (
    Contact,
    ContactCreate,
    ContactPatch,
)
from chalicelib.schemas.events import EventType
from chalicelib.services import activity, events
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
