"""Groups (static segments): CRUD, member counts, attaching and detaching contacts in batches."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.repository import bulk as bulk_repo
from chalicelib.repository import groups as repo
from chalicelib.repository.batch import BatchIncomplete, Deadline
from chalicelib.repository.contacts import group_membership
from chalicelib.repository.models import ContactItem, GroupItem
from chalicelib.schemas.common import Deleted
from chalicelib.schemas.groups import (
    MAX_GROUP_MEMBERS_PER_CALL,
    AttachAnswer,
    DetachAnswer,
    Group,
    GroupCreate,
    GroupListQuery,
    GroupMembersBody,
    GroupPage,
    GroupPatch,
    GroupWithCount,
)
from chalicelib.services import counters, cursors, events
from chalicelib.services.auth import Principal
from chalicelib.services.contact_writes import note, note_dump, resolve_contacts, unavailable

GROUP_ID_PREFIX = "grp_"
Remaining = Callable[[], float] | None


def new_group_id() -> str:
    # Public (it goes into web pages) and unguessable: 32 random bytes, URL-safe base64.
    return GROUP_ID_PREFIX + secrets.token_urlsafe(32)


def to_group(item: GroupItem) -> Group:
    return Group(
        id=item.group_id,
        name=item.name,
        doubleOptIn=bool(item.double_opt_in),
        confirmRedirectUrl=item.confirm_redirect_url,
        createdAt=item.created_at,
        updatedAt=item.updated_at,
    )


def _load(principal: Principal, group_id: str) -> GroupItem:
    item = repo.get(principal.tenant_id, group_id) if group_id.startswith(GROUP_ID_PREFIX) else None
    if item is None:
        raise errors.NotFound("No such group.")
    return item


def create_group(principal: Principal, body: GroupCreate) -> Group:
    now = now_iso()
    group_id = new_group_id()
    item = repo.new_group(
        principal.tenant_id,
        group_id,
        name=body.name,
        double_opt_in=body.doubleOptIn,
        confirm_redirect_url=body.confirmRedirectUrl,
        created_at=now,
        updated_at=now,
    )
    repo.create(item, principal.tenant_id)
    return to_group(item)


def list_groups(principal: Principal, query: GroupListQuery) -> GroupPage:
    after = cursors.decode(query.cursor, principal.tenant_id, "groups")
    items, last = repo.page(principal.tenant_id, query.limit, after)
    cursor = cursors.encode(principal.tenant_id, "groups", last) if last else None
    return GroupPage(data=[to_group(item) for item in items], nextCursor=cursor)


def get_group(principal: Principal, group_id: str) -> GroupWithCount:
    item = _load(principal, group_id)
    count = counters.member_count(principal.tenant_id, group_id)  # non-archived members, from the stream
    return GroupWithCount(**to_group(item).model_dump(), memberCount=count)


def update_group(principal: Principal, group_id: str, patch: GroupPatch) -> Group:
    item = _load(principal, group_id)
    fields = patch.model_fields_set
    if "name" in fields:
        if patch.name is None:
            raise errors.ValidationFailed(
                "The group is not valid.", details=[{"field": "name", "message": "may not be null"}]
            )
        item.name = patch.name
    if "doubleOptIn" in fields:
        item.double_opt_in = bool(patch.doubleOptIn)
    if "confirmRedirectUrl" in fields:
        item.confirm_redirect_url = patch.confirmRedirectUrl
    item.updated_at = now_iso()
    repo.save(item)
    return to_group(item)


def delete_group(principal: Principal, group_id: str, remaining: Remaining = None) -> Deleted:
    """Strip the group from its members first, then delete it: a retry after a timeout finishes the job."""
    _load(principal, group_id)
    _, unprocessed = _detach_all(principal, group_id, Deadline(remaining))
    if unprocessed:
        raise unavailable(len(unprocessed))
    repo.delete(principal.tenant_id, group_id)
    return Deleted(id=group_id)


def _identifiers(body: GroupMembersBody) -> tuple[list[str], list[str]]:
    ids, emails = body.contactIds or [], body.emails or []
    if len(ids) + len(emails) > MAX_GROUP_MEMBERS_PER_CALL:
        raise errors.PayloadTooLarge(f"At most {MAX_GROUP_MEMBERS_PER_CALL} contacts per call.")
    return ids, emails


def _load_contacts(principal: Principal, emails: list[str], deadline: Deadline) -> dict[str, ContactItem]:
    try:
        return bulk_repo.load_contacts(principal.tenant_id, emails, deadline)
    except BatchIncomplete as incomplete:
        raise unavailable(len(incomplete.pending)) from None


def _membership_note(principal: Principal) -> dict[str, Any]:
    """The `lastChange` a membership transaction writes on the contact: the relay derives its contact.updated."""
    return note_dump(note("contact.updated", events.actor_of(principal)))


def attach(principal: Principal, group_id: str, body: GroupMembersBody, remaining: Remaining = None) -> AttachAnswer:
    """Counts are true under concurrency: of simultaneous attaches of one contact, exactly one reports it
    attached (each contact's change is a conditional transaction, see repository.groups)."""
    ids, emails = _identifiers(body)
    if not ids and not emails:
        raise errors.ValidationFailed(
            "Name the contacts to attach.",
            details=[{"field": "contactIds", "message": "contactIds or emails is required"}],
        )
    _load(principal, group_id)
    deadline = Deadline(remaining)
    found, not_found = resolve_contacts(principal.tenant_id, ids, emails, deadline)
    joining = [c for c in found.values() if group_id not in (c.group_ids or ())]
    outcome = repo.attach_contacts(principal.tenant_id, group_id, joining, _membership_note(principal), deadline)
    return AttachAnswer(
        attached=len(outcome.changed),
        alreadyMember=len(found) - len(joining) + len(outcome.unchanged),
        notFound=not_found + len(outcome.gone),
        unprocessedIds=sorted(found[email].contact_id for email in outcome.pending),
    )


def _strip(
    principal: Principal, group_id: str, contacts: dict[str, ContactItem], deadline: Deadline
) -> tuple[int, set[str]]:
    leaving = {email: c for email, c in contacts.items() if group_id in (c.group_ids or ())}
    outcome = repo.detach_contacts(
        principal.tenant_id, group_id, leaving.values(), _membership_note(principal), deadline
    )
    return len(outcome.changed), {leaving[email].contact_id for email in outcome.pending}


def _detach_all(principal: Principal, group_id: str, deadline: Deadline) -> tuple[int, set[str]]:
    """Remove every member; index entries no contact backs any more are deleted too (best effort: harmless)."""
    membership = group_membership(group_id)
    emails = bulk_repo.member_emails(principal.tenant_id, membership)
    contacts = _load_contacts(principal, emails, deadline)
    detached, failed = _strip(principal, group_id, contacts, deadline)
    stale = [email for email in emails if email not in contacts or group_id not in (contacts[email].group_ids or ())]
    bulk_repo.delete_memberships(principal.tenant_id, membership, stale, deadline)
    return detached, failed


def detach(principal: Principal, group_id: str, body: GroupMembersBody, remaining: Remaining = None) -> DetachAnswer:
    ids, emails = _identifiers(body)
    _load(principal, group_id)
    deadline = Deadline(remaining)
    if body.contactIds is None and body.emails is None:
        detached, failed = _detach_all(principal, group_id, deadline)
    else:
        found, _ = resolve_contacts(principal.tenant_id, ids, emails, deadline)
        detached, failed = _strip(principal, group_id, found, deadline)
    return DetachAnswer(detached=detached, unprocessedIds=sorted(failed))
