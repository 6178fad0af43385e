"""Public newsletter signups (the widget) and double opt-in confirmation by e-mail."""

from __future__ import annotations

import hashlib
import html
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import errors
from chalicelib.clock import now_epoch, now_iso
from chalicelib.repository import contacts as contacts_repo
from chalicelib.repository import groups as groups_repo
from chalicelib.repository import mail, signups
from chalicelib.repository.models import ContactItem, GroupItem
from chalicelib.schemas.common import MAX_TAGS
from chalicelib.schemas.subscribe import SubscribeAnswer, SubscribeBody
from chalicelib.services import events
from chalicelib.services.contact_writes import MAX_VERSION_RETRIES, create, modify_contact, note
from chalicelib.settings import settings

RATE_WINDOW_SECONDS = 60
TOKEN_LIFETIME_SECONDS = 7 * 24 * 3600


def _source(group: GroupItem) -> str:
    return f"subscribe:{group.name}"


def _answer(group: GroupItem, subscription: str) -> SubscribeAnswer:
    if group.double_opt_in and subscription != "confirmed":
        return SubscribeAnswer(status="confirmation_required")
    return SubscribeAnswer(status="subscribed")


def _split_name(name: str | None) -> tuple[str | None, str | None]:
    if not name:
        return None, None
    first, _, last = name.partition(" ")
    return first[:255] or None, last.strip()[:255] or None


def _signup_change(group: GroupItem, body: SubscribeBody) -> Callable[[ContactItem], None]:
    first, last = _split_name(body.name)

    source_tag = f"source:{_source(group)}"

    def change(item: ContactItem) -> None:
        tags = set(item.tags or ())
        if len(tags) < MAX_TAGS:  # a contact at the tag limit still joins; it just gets no source tag
            tags.add(source_tag)
        item.tags = tags or None
        item.group_ids = set(item.group_ids or ()) | {group.group_id}
        if group.double_opt_in:
            # A confirmed contact is never downgraded, not even by a replayed signup.
            if item.subscription != "confirmed":
                item.subscription = "unconfirmed"
        else:
            item.subscription = "confirmed"
        # The signup only fills what the tenant does not know yet; it never overwrites CRM data.
        item.first_name = item.first_name or first
        item.last_name = item.last_name or last
        item.deleted_at = None  # signing up again brings an archived contact back

    return change


def _new_contact(tenant_id: str, group: GroupItem, body: SubscribeBody) -> ContactItem:
    now = now_iso()
    item = ContactItem(
        tenant_id,
        body.email,
        contact_id=str(uuid.uuid4()),
        source=_source(group),
        subscription="unconfirmed",
        created_at=now,
        updated_at=now,
    )
    _signup_change(group, body)(item)
    return item


@dataclass
class _Signup:
    contact: ContactItem
    is_new: bool


def _upsert(tenant_id: str, group: GroupItem, body: SubscribeBody) -> _Signup:
    """Create the contact, or add the signup to the existing one; safe against racing writers."""
    # The relay makes contact.subscribed (and contact.created for a new contact) from this note.
    signup = note("contact.subscribed", events.SUBSCRIBE_ACTOR, groupId=group.group_id, formType=body.formType)
    for _ in range(MAX_VERSION_RETRIES):
        existing = contacts_repo.get_by_email(tenant_id, body.email)
        if existing is None:
            item = _new_contact(tenant_id, group, body)
            try:
                create(item, signup)
            except contacts_repo.ContactConflict:
                continue  # created by someone else in between: update theirs
            return _Signup(item, True)

        def load(email: str = existing.email) -> ContactItem:
            found = contacts_repo.get_by_email(tenant_id, email)
            if found is None:
                raise errors.Conflict("The contact was removed while signing up; retry.")
            return found

        updated = modify_contact(load, _signup_change(group, body), signup)
        return _Signup(updated, False)
    raise errors.Conflict("The contact changed too often while signing up; retry.")


def subscribe(body: SubscribeBody, api_base_url: str) -> SubscribeAnswer:
    found = groups_repo.find_by_public_id(body.group)
    if found is None:
        raise errors.NotFound("No such group.")
    tenant_id, group = found
    if body.website:
        # The honeypot was filled: a bot. Answer as a person would be answered, store nothing.
        return _answer(group, "unconfirmed")
    wait = signups.claim_window(f"subscribe#{group.group_id}#{body.email}", now_epoch(), RATE_WINDOW_SECONDS)
    if wait is not None:
        raise errors.RateLimited("This address just signed up; try again in a minute.", retry_after=wait)
    signup = _upsert(tenant_id, group, body)
    if group.double_opt_in and signup.contact.subscription != "confirmed":
        _send_confirmation(tenant_id, group, signup.contact, api_base_url)
    return _answer(group, signup.contact.subscription)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _send_confirmation(tenant_id: str, group: GroupItem, contact: ContactItem, api_base_url: str) -> None:
    token = secrets.token_urlsafe(32)
    signups.save_confirmation(
        _token_hash(token), tenant_id, contact.contact_id, group.group_id, now_epoch() + TOKEN_LIFETIME_SECONDS
    )
    link = f"{settings.public_api_url or api_base_url}/api/subscribe/confirm?token={token}"
    name = html.escape(group.name)
    text = (
        f"Please confirm your subscription to {group.name}:\n\n{link}\n\n"
        "The link is valid for 7 days. If you did not sign up, ignore this message."
    )
    page = (
        f"<p>Please confirm your subscription to <strong>{name}</strong>:</p>"
        f'<p><a href="{html.escape(link)}">Confirm my subscription</a></p>'
        "<p>The link is valid for 7 days. If you did not sign up, ignore this message.</p>"
    )
    mail.send_email(settings.ses_sender, contact.email, f"Confirm your subscription to {group.name}", text, page)


@dataclass(frozen=True)
class Confirmed:
    group_name: str
    redirect_url: str | None


def confirm(token: str | None) -> Confirmed:
    """Confirm the contact behind a token (idempotent); BadRequest for a bad or expired token."""
    found = signups.find_confirmation(_token_hash(token), now_epoch()) if token else None
    if found is None:
        raise errors.BadRequest("This confirmation link is not valid or has expired.")
    group = groups_repo.get(found.tenant_id, found.group_id)

    def load() -> ContactItem:
        contact = contacts_repo.get_by_id(found.tenant_id, found.contact_id)
        if contact is None:
            raise errors.BadRequest("This confirmation link is not valid or has expired.")
        return contact

    def confirm_subscription(item: ContactItem) -> None:
        item.subscription = "confirmed"

    modify_contact(
        load, confirm_subscription, note("contact.confirmed", events.SUBSCRIBE_ACTOR, groupId=found.group_id)
    )
    return Confirmed(group.name if group else "the list", group.confirm_redirect_url if group else None)
