"""Bulk upsert and bulk tags: pre-load in batches, merge in memory, write in batches, report every row.

The shape of the bulk upsert (see docs/bulk.md):
1. validate each row on its own (a bad row is a per-row error, never a failed batch);
2. pre-load what the rows name with BatchGetItem: contacts by email, and the
   contact-keys pointers of externalIds;
3. apply the rows in order to in-memory copies (a repeated identity is applied
   on top of the earlier row), deciding created / updated / unchanged / skipped / error;
4. write each changed contact once, with its pointers and memberships, in
   BatchWriteItem calls (`repository.bulk.write_contacts`); contacts not written
   before the deadline turn their rows into `unprocessed` errors, which a client retries.
   A request whose rows create contacts writes under the tenant's create lease, and reads and
   merges again first when another request created contacts since it read (docs/bulk.md).

Each written contact carries its `lastChange` note (actor, origin "bulk", the
eventKeyForNewContacts): the relay derives `contact.created` / `contact.updated`
from the contacts table's stream, so the request itself sends no event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from chalicelib import errors, observability
from chalicelib.clock import now_iso
from chalicelib.repository import bulk as repo
from chalicelib.repository.batch import BatchIncomplete, Deadline
from chalicelib.repository.contacts import external_key
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.bulk import (
    MAX_BULK_ROWS,
    MAX_BULK_TAG_IDENTIFIERS,
    Action,
    BulkRow,
    BulkRowError,
    BulkRowResult,
    BulkTagsAnswer,
    BulkTagsBody,
    BulkUpsertAnswer,
    BulkUpsertAnswerWithResults,
    BulkUpsertBody,
)
from chalicelib.schemas.common import MAX_TAGS
from chalicelib.services import events
from chalicelib.services.auth import Principal
from chalicelib.services.contact_changes import changed_fields, contact_state
from chalicelib.services.contact_writes import (
    PATCHABLE,
    copy_item,
    merge_custom_fields,
    new_contact_item,
    note,
    resolve_contacts,
    store_changes,
)
from chalicelib.services.contacts import require_groups

Remaining = Callable[[], float] | None
# Seconds kept back from the Lambda's time to render the answer after the last write.
DEADLINE_RESERVE = 3.0
BULK_SOURCE = "bulk"

# Plain fields a row may set: API name -> item attribute. email, externalId, tags,
# customFields and subscription have rules of their own below.
ROW_FIELDS = {name: attribute for name, attribute in PATCHABLE.items() if name not in ("email", "externalId")}


class RowError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Tracked:
    """One contact the request touches: as stored before it (None: new) and as the rows leave it."""

    before: ContactItem | None
    item: ContactItem
    rows: list[int] = field(default_factory=list)

    def changed(self) -> bool:
        return self.before is None or bool(changed_fields(self.before, self.item))


@dataclass
class RowOutcome:
    index: int
    action: Action
    email: str | None
    contact: Tracked | None = None
    code: str | None = None
    message: str | None = None


@dataclass
class BulkOutcome:
    """Everything the request decided, row by row; events are derived from it."""

    rows: list[RowOutcome]
    event_key: str | None
    dry_run: bool

    def count(self, action: Action) -> int:
        return sum(1 for row in self.rows if row.action == action)


def _validation_message(error: PydanticValidationError, index: int) -> str:
    parts = []
    for e in error.errors():
        location = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
        parts.append(f"contacts[{index}]{location}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _raw_email(raw: Any) -> str | None:
    email = raw.get("email") if isinstance(raw, dict) else None
    return email if isinstance(email, str) else None


class Merge:
    """Applies rows in order to in-memory contacts; knows who holds which email and externalId."""

    def __init__(self, principal: Principal, body: BulkUpsertBody, stored: dict[str, ContactItem]) -> None:
        self.tenant_id = principal.tenant_id
        self.body = body
        self.now = now_iso()
        self.by_email: dict[str, Tracked] = {}
        self.by_external: dict[str, Tracked] = {}
        # Emails and externalIds given up in this request stay reserved until the next one, so
        # that no two contacts' writes in one batch ever target the same key.
        self.vacated_emails: set[str] = set()
        self.vacated_external: set[str] = set()
        for email, contact in stored.items():
            tracked = Tracked(contact, copy_item(contact))
            self.by_email[email] = tracked
            if contact.external_id:
                self.by_external[contact.external_id] = tracked

    def trust_pointers(self, pointers: dict[str, repo.Pointer]) -> None:
        """Map externalIds to loaded contacts, ignoring pointers their contact no longer confirms."""
        for key, pointer in pointers.items():
            tracked = self.by_email.get(pointer.email)
            if tracked is not None and tracked.before is not None:
                external_id = tracked.before.external_id
                if external_id and external_key(external_id) == key and tracked.before.contact_id == pointer.contact_id:
                    self.by_external[external_id] = tracked

    def apply(self, index: int, row: BulkRow) -> RowOutcome:
        if self.body.dedupeOn == "externalId":
            if row.externalId is None:
                raise RowError(
                    "validation_error", f"contacts[{index}].externalId: required when dedupeOn is externalId"
                )
            match = self.by_external.get(row.externalId)
        else:
            if row.email is None:
                raise RowError("validation_error", f"contacts[{index}].email: Field required")
            match = self.by_email.get(row.email)
        if match is None:
            return self._create(index, row)
        if match.item.deleted_at is not None and not self.body.restoreDeleted:
            return RowOutcome(index, "skipped", match.item.email, match)
        if self.body.onDuplicate == "skip":
            return RowOutcome(index, "skipped", match.item.email, match)
        return self._update(index, row, match)

    def _tags(self, current: Iterable[str], row: BulkRow) -> set[str]:
        tags = set(current) | set(row.tags or ()) | set(self.body.tags)
        if len(tags) > MAX_TAGS:
            raise RowError("validation_error", f"A contact carries at most {MAX_TAGS} tags.")
        return tags

    def _email_free(self, email: str) -> bool:
        return email not in self.by_email and email not in self.vacated_emails

    def _external_free(self, external_id: str) -> bool:
        return external_id not in self.by_external and external_id not in self.vacated_external

    def _create(self, index: int, row: BulkRow) -> RowOutcome:
        if row.email is None:
            raise RowError("validation_error", f"contacts[{index}].email: required to create a contact")
        if not self._email_free(row.email):
            raise RowError("conflict", "Another contact already has this email.")
        if row.externalId is not None and not self._external_free(row.externalId):
            raise RowError("conflict", "Another contact already has this externalId.")
        item = new_contact_item(
            self.tenant_id,
            row.email,
            row,
            source=BULK_SOURCE,
            subscription=row.subscription or "unconfirmed",
            tags=self._tags((), row),
            group_ids=self.body.groupIds,
            now=self.now,
        )
        tracked = Tracked(None, item)
        self.by_email[row.email] = tracked
        if row.externalId is not None:
            self.by_external[row.externalId] = tracked
        return RowOutcome(index, "created", row.email, tracked)

    def _update(self, index: int, row: BulkRow, tracked: Tracked) -> RowOutcome:
        item = tracked.item
        # Every check first, so that a refused row changes nothing.
        new_email = row.email if row.email is not None and row.email != item.email else None
        if new_email is not None and not self._email_free(new_email):
            raise RowError("conflict", "Another contact already has this email.")
        new_external = row.externalId if row.externalId is not None and row.externalId != item.external_id else None
        if new_external is not None and not self._external_free(new_external):
            raise RowError("conflict", "Another contact already has this externalId.")
        tags = self._tags(item.tags or (), row)
        before = contact_state(item)

        if new_email is not None:
            del self.by_email[item.email]
            self.vacated_emails.add(item.email)
            self.by_email[new_email] = tracked
            item.email = new_email
        if new_external is not None:
            if item.external_id:
                del self.by_external[item.external_id]
                self.vacated_external.add(item.external_id)
            self.by_external[new_external] = tracked
            item.external_id = new_external
        for name, attribute in ROW_FIELDS.items():
            value = getattr(row, name)
            if value is not None:
                setattr(item, attribute, value)
        item.tags = tags or None
        item.group_ids = (set(item.group_ids or ()) | set(self.body.groupIds)) or None
        if row.customFields is not None:
            item.custom_fields = merge_custom_fields(item.custom_fields, row.customFields)
        if self.body.restoreDeleted:
            item.deleted_at = None

        if contact_state(item) == before:
            return RowOutcome(index, "unchanged", item.email, tracked)
        item.updated_at = self.now
        return RowOutcome(index, "updated", item.email, tracked)


def _preload(principal: Principal, body: BulkUpsertBody, rows: list[BulkRow | None], deadline: Deadline) -> Merge:
    """Read, with as few BatchGetItem calls as the rows allow, every contact and pointer the merge needs."""
    tenant = principal.tenant_id
    valid = [row for row in rows if row is not None]
    emails = {row.email for row in valid if row.email is not None}
    externals = {row.externalId for row in valid if row.externalId is not None}
    if body.dedupeOn == "externalId":
        pointers = repo.load_pointers(tenant, (external_key(e) for e in externals), deadline)
        stored = repo.load_contacts(tenant, emails | {p.email for p in pointers.values()}, deadline)
    else:
        stored = repo.load_contacts(tenant, emails, deadline)
        # Only externalIds not already carried by the contact at the row's email can belong to someone else.
        carried = {c.external_id for c in stored.values() if c.external_id}
        pointers = repo.load_pointers(tenant, (external_key(e) for e in externals - carried), deadline)
        missing = {p.email for p in pointers.values()} - stored.keys()
        if missing:
            stored.update(repo.load_contacts(tenant, missing, deadline))
    merge = Merge(principal, body, stored)
    merge.trust_pointers(pointers)
    return merge


def run_bulk_upsert(principal: Principal, body: BulkUpsertBody, remaining: Remaining = None) -> BulkOutcome:
    if len(body.contacts) > MAX_BULK_ROWS:
        raise errors.PayloadTooLarge(
            f"At most {MAX_BULK_ROWS} rows per request; split larger imports.",
            details=[{"field": "contacts", "message": f"{len(body.contacts)} rows sent"}],
        )
    require_groups(principal, body.groupIds)
    deadline = Deadline(remaining, reserve=DEADLINE_RESERVE)
    invalid: dict[int, RowOutcome] = {}
    rows: list[BulkRow | None] = []
    for index, raw in enumerate(body.contacts):
        try:
            rows.append(BulkRow.model_validate(raw))
        except PydanticValidationError as error:
            rows.append(None)
            message = _validation_message(error, index)
            invalid[index] = RowOutcome(index, "error", _raw_email(raw), code="validation_error", message=message)
    # Read before the contacts: a bulk write with creates finishing after this moves the count.
    generation = repo.create_generation(principal.tenant_id) if not body.dryRun else 0
    merged = _merge(principal, body, rows, invalid, deadline)
    if merged is None or body.dryRun:
        return merged[0] if merged else _all_unprocessed(body, invalid)
    outcome, merge = merged
    if not any(t.before is None for t in _changed(merge)):
        _write(principal, outcome, merge, deadline)
        return outcome
    lease = repo.take_create_lease(principal.tenant_id, deadline)
    if lease is None:  # other requests kept creating until the deadline: write the updates, report the creates
        _write(principal, outcome, merge, deadline, creates=False)
        return outcome
    try:
        if lease.generation != generation:
            # Another bulk request created contacts since this one read: some of "our" new emails may be
            # theirs now. Read and merge again, under the lease, so that those rows update their contact.
            merged = _merge(principal, body, rows, invalid, deadline)
            if merged is None:
                return _all_unprocessed(body, invalid)
            outcome, merge = merged
        _write(principal, outcome, merge, deadline)
    finally:
        repo.release_create_lease(lease)
    return outcome


def _merge(
    principal: Principal,
    body: BulkUpsertBody,
    rows: list[BulkRow | None],
    invalid: dict[int, RowOutcome],
    deadline: Deadline,
) -> tuple[BulkOutcome, Merge] | None:
    """Pre-load and apply every valid row in order; None when the reads did not finish before the deadline."""
    outcomes: list[RowOutcome | None] = [invalid.get(index) for index in range(len(rows))]
    try:
        merge = _preload(principal, body, rows, deadline)
    except BatchIncomplete:
        return None
    for index, row in enumerate(rows):
        if row is None:
            continue
        try:
            outcomes[index] = merge.apply(index, row)
        except RowError as error:
            outcomes[index] = RowOutcome(
                index, "error", _raw_email(body.contacts[index]), code=error.code, message=error.message
            )
    outcome = BulkOutcome([o for o in outcomes if o is not None], body.eventKeyForNewContacts, body.dryRun)
    for row_outcome in outcome.rows:
        if row_outcome.contact is not None:
            row_outcome.contact.rows.append(row_outcome.index)
    return outcome, merge


def _all_unprocessed(body: BulkUpsertBody, invalid: dict[int, RowOutcome]) -> BulkOutcome:
    rows = [invalid.get(i) or _unprocessed(i, _raw_email(raw)) for i, raw in enumerate(body.contacts)]
    return BulkOutcome(rows, body.eventKeyForNewContacts, body.dryRun)


def _unprocessed(index: int, email: str | None) -> RowOutcome:
    return RowOutcome(
        index, "error", email, code="unprocessed", message="Not written before the time limit; send this row again."
    )


def _changed(merge: Merge) -> list[Tracked]:
    return [t for t in {id(t): t for t in merge.by_email.values()}.values() if t.changed()]


def _write(
    principal: Principal, outcome: BulkOutcome, merge: Merge, deadline: Deadline, *, creates: bool = True
) -> None:
    """Write every changed contact; `creates=False` writes only updates and reports the creates unprocessed."""
    touched = {id(t): t for t in _changed(merge)}
    changes = {
        key: repo.ContactChange(t.before, t.item) for key, t in touched.items() if creates or t.before is not None
    }
    # New contacts' events carry the request's eventKeyForNewContacts as data.eventKey.
    written = note("contact.updated", events.actor_of(principal), origin=BULK_SOURCE, eventKey=outcome.event_key)
    failed = store_changes(principal.tenant_id, changes, deadline, written)
    failed |= touched.keys() - changes.keys()
    if not failed:
        return
    for index, row in enumerate(outcome.rows):
        if row.contact is not None and id(row.contact) in failed and row.action != "skipped":
            outcome.rows[index] = _unprocessed(row.index, row.email)


def bulk_upsert(principal: Principal, body: BulkUpsertBody, remaining: Remaining = None) -> BulkUpsertAnswer:
    outcome = run_bulk_upsert(principal, body, remaining)
    observability.count("BulkRows", len(outcome.rows))
    if not outcome.dry_run:
        observability.count("ContactsWritten", outcome.count("created") + outcome.count("updated"))
    return answer(outcome, with_results=body.returnResults)


def answer(outcome: BulkOutcome, *, with_results: bool) -> BulkUpsertAnswer:
    errors_ = [
        BulkRowError(index=r.index, email=r.email, code=r.code, message=r.message or "")  # type: ignore[arg-type]
        for r in outcome.rows
        if r.action == "error"
    ]
    counts: dict[str, Any] = {
        "totalSubmitted": len(outcome.rows),
        "created": outcome.count("created"),
        "updated": outcome.count("updated"),
        "unchanged": outcome.count("unchanged"),
        "skipped": outcome.count("skipped"),
        "errors": errors_,
    }
    if not with_results:
        return BulkUpsertAnswer(**counts)
    results = [
        BulkRowResult(
            index=r.index,
            id=r.contact.item.contact_id if r.contact is not None and r.action != "error" else None,
            email=r.email,
            action=r.action,
        )
        for r in outcome.rows
    ]
    return BulkUpsertAnswerWithResults(**counts, results=results)


# Bulk tags


def bulk_tags(principal: Principal, body: BulkTagsBody, remaining: Remaining = None) -> BulkTagsAnswer:
    identifiers = len(body.contactIds) + len(body.emails)
    if identifiers > MAX_BULK_TAG_IDENTIFIERS:
        raise errors.PayloadTooLarge(f"At most {MAX_BULK_TAG_IDENTIFIERS} contactIds and emails per request.")
    if not body.addTags and not body.removeTags:
        raise errors.ValidationFailed(
            "Nothing to do.", details=[{"field": "addTags", "message": "addTags or removeTags must not be empty"}]
        )
    overlap = set(body.addTags) & set(body.removeTags)
    if overlap:
        raise errors.ValidationFailed(
            "A tag cannot be added and removed at once.",
            details=[{"field": "removeTags", "message": f"also in addTags: {t}"} for t in sorted(overlap)],
        )
    deadline = Deadline(remaining, reserve=DEADLINE_RESERVE)
    found, _ = resolve_contacts(principal.tenant_id, body.contactIds, body.emails, deadline)
    add, remove = set(body.addTags), set(body.removeTags)
    changes: dict[str, repo.ContactChange] = {}
    added: dict[str, int] = {}
    removed: dict[str, int] = {}
    for email, contact in found.items():
        tags = set(contact.tags or ())
        new_tags = (tags | add) - remove
        if new_tags == tags:
            continue
        if len(new_tags) > MAX_TAGS:
            raise errors.ValidationFailed(
                f"A contact carries at most {MAX_TAGS} tags.",
                details=[{"field": "addTags", "message": f"contact {contact.contact_id} would carry too many tags"}],
            )
        new = copy_item(contact)
        new.tags = new_tags or None
        new.updated_at = now_iso()
        changes[email] = repo.ContactChange(contact, new)
        added[email], removed[email] = len(new_tags - tags), len(tags - new_tags)
    failed = store_changes(
        principal.tenant_id, changes, deadline, note("contact.updated", events.actor_of(principal), origin=BULK_SOURCE)
    )
    return BulkTagsAnswer(
        matched=len(found),
        tagsAdded=sum(n for email, n in added.items() if email not in failed),
        tagsRemoved=sum(n for email, n in removed.items() if email not in failed),
        unprocessedIds=sorted(changes[email].new.contact_id for email in failed),
    )
