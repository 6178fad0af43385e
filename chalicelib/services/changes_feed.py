"""The changes feed (GET /api/contacts/changes): written from the contacts stream, read with a cursor.

Writing: the relay hands each stream batch to `apply_changes`, which writes one
entry per change (a snapshot for upserted and archived, only id and externalId for
erased) stamped with the time it is written. Reading: `read_changes` answers only
entries stamped more than the settle window ago, and the writer re-stamps any entry
whose write took longer than half that window, so a reader never moves its cursor
past a position where an entry can still appear. Why and what it costs:
docs/changes-feed.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from chalicelib import errors
from chalicelib.repository import changes_feed as repo
from chalicelib.repository.models import ChangeEntryItem
from chalicelib.schemas.changes_feed import ChangeKind, ChangesPage, ChangesQuery, ContactChangeEntry
from chalicelib.schemas.contacts import Contact
from chalicelib.services import cursors
from chalicelib.services.auth import Principal
from chalicelib.services.contact_changes import ContactChange, Refused
from chalicelib.services.contact_writes import to_contact
from chalicelib.settings import settings

LISTING = "changes"
RETENTION = timedelta(days=30)
# TTL deletes lazily and the reader refuses cursors past RETENTION itself, so the margin only keeps
# entries a cursor at the very edge still needs.
EXPIRY_MARGIN = timedelta(days=1)
# Entries a request reads at most (a contact changed over and over shows once per page): a bound per request.
MAX_EXAMINED = 1000
# "<changedAt>" (a horizon) or "<changedAt>#<contactId>#<sequence>" (an entry).
POSITION = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z(#[^#]+#\d{40})?")
SEQUENCE_WIDTH = 40  # stream sequence numbers are decimal strings of varying length: pad to sort


def _utc_now() -> datetime:
    return datetime.now(UTC)


_clock: list[Callable[[], datetime]] = [_utc_now]


@contextmanager
def use_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """Run the feed's writer and reader on another clock (tests drive time with a fake one)."""
    _clock.append(clock)
    try:
        yield
    finally:
        _clock.remove(clock)


def _now() -> datetime:
    return _clock[-1]()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _settle() -> timedelta:
    return timedelta(seconds=settings.feed_settle_seconds)


# Writing (the relay's consumer)


def _entry(change: ContactChange, moved: bool) -> tuple[str, str, str | None, ChangeKind, str | None] | None:
    """(tenant, id, externalId, kind, contact JSON) of one change; None for the removal half of an email change."""
    if change.new is None:
        assert change.old is not None
        if moved:
            return None  # the item moved to its new email; that record's insert is the entry
        return (change.tenant_id, change.old.contact_id, change.old.external_id, "erased", None)
    kind: ChangeKind = "archived" if change.new.deleted_at is not None else "upserted"
    contact = to_contact(change.new)
    return (change.tenant_id, contact.id, contact.externalId, kind, contact.model_dump_json())


def apply_changes(changes: Sequence[ContactChange]) -> list[Refused]:
    """The relay's entry point: one feed entry per change of the batch, in stream order.

    A removed item whose contact still exists (its `id#` pointer) was moved by an email
    change, not erased. A replayed batch writes its entries again at a later position:
    a client may see a state twice, never miss one, and the last state it sees is the latest.
    """
    removed = {(c.tenant_id, c.old.contact_id) for c in changes if c.new is None and c.old is not None}
    still_there = repo.existing_contact_ids(removed) if removed else set()
    pending = []
    refused: list[Refused] = []
    for change in changes:
        moved = change.old is not None and (change.tenant_id, change.old.contact_id) in still_there
        try:
            entry = _entry(change, moved)
        except ValueError as error:  # a stored contact that cannot be rendered: parked, never blocks the shard
            refused.append(Refused(change, f"{type(error).__name__}: {error}"))
            continue
        if entry is not None:
            pending.append((entry, change.sequence_number.zfill(SEQUENCE_WIDTH)))
    while pending:
        started = _now()
        stamp = iso(started)
        expires_at = int((started + RETENTION + EXPIRY_MARGIN).timestamp())
        items = [
            repo.new_entry(
                tenant_id,
                contact_id,
                f"{stamp}#{contact_id}#{sequence}",
                external_id=external_id,
                change=kind,
                changed_at=stamp,
                contact=contact,
                expires_at=expires_at,
            )
            for (tenant_id, contact_id, external_id, kind, contact), sequence in pending
        ]
        repo.put_entries(items)
        limit = _settle() / 2
        if limit <= timedelta(0) or _now() - started <= limit:
            return refused
        # The write took so long that a reader may already have passed `stamp`: write the same
        # entries again at a position no reader can have passed yet.
    return refused


# Reading (the route)


def _cursor(tenant_id: str, position: str) -> str:
    return cursors.encode(tenant_id, LISTING, position)


def _start(tenant_id: str, query: ChangesQuery, now: datetime) -> str:
    """The position the page starts after; 400 for a bad cursor, 410 past retention, 422 for a future time."""
    oldest = iso(now - RETENTION)
    if query.since is not None:
        position = cursors.decode(query.since, tenant_id, LISTING) or ""
        if not POSITION.fullmatch(position) or position[:24] > iso(now):
            raise errors.BadRequest("The cursor is not valid.")
        if position[:24] < oldest:
            raise errors.CursorExpired("The feed keeps changes 30 days; this cursor is older. Start from a listing.")
        return position
    if query.updatedSince is not None:
        since = query.updatedSince
        since = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        if since > now:
            raise errors.ValidationFailed(
                "The request is not valid.", details=[{"field": "updatedSince", "message": "is in the future"}]
            )
        if iso(since) < oldest:
            raise errors.CursorExpired("The feed keeps changes 30 days; updatedSince is older. Start from a listing.")
        return iso(since)
    return oldest


def _render(entry: ChangeEntryItem) -> ContactChangeEntry:
    return ContactChangeEntry(
        contact=Contact.model_validate_json(entry.contact) if entry.contact else None,
        id=entry.contact_id,
        externalId=entry.external_id,
        change=entry.change,  # type: ignore[arg-type]
        changedAt=entry.changed_at,
    )


def read_changes(principal: Principal, query: ChangesQuery) -> ChangesPage:
    """One page of the feed: oldest first, each contact at most once (its latest entry in the page)."""
    tenant_id = principal.tenant_id
    now = _now()
    after = _start(tenant_id, query, now)
    horizon = iso(now - _settle())
    if after >= horizon:
        return ChangesPage(data=[], nextCursor=_cursor(tenant_id, after))
    kept: dict[str, ChangeEntryItem] = {}
    last: str | None = None
    complete = True
    # One Query per shard to start, merged by position: MAX_EXAMINED bounds the entries read from all shards together.
    entries = repo.read_entries(tenant_id, after, horizon, wanted=query.limit + 1)
    for examined, entry in enumerate(entries, start=1):
        if entry.contact_id not in kept and len(kept) == query.limit:
            complete = False  # this entry starts the next page
            break
        kept.pop(entry.contact_id, None)  # the later entry of a contact replaces, and follows, the earlier one
        kept[entry.contact_id] = entry
        last = entry.position
        if examined >= MAX_EXAMINED:
            complete = False
            break
    # A complete read saw every entry before the horizon; no entry can appear there any more. Otherwise
    # `last` is safe in every shard: the merge hands out entries in position order, so whatever a shard
    # holds before `last` was read, however far the other shards' Queries went.
    position = horizon if complete or last is None else last
    return ChangesPage(data=[_render(entry) for entry in kept.values()], nextCursor=_cursor(tenant_id, position))
