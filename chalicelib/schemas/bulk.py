"""Bodies and answers of the bulk upsert and bulk tag routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import StringConstraints

from chalicelib.schemas.common import Body, Email, GroupId, Identifier, Model, Subscription, TagList
from chalicelib.schemas.contacts import ContactFields

MAX_BULK_ROWS = 10_000
MAX_BULK_TAG_IDENTIFIERS = 10_000


class BulkRow(ContactFields):
    """One row of a bulk upsert; null or absent fields leave the stored value alone, tags are added."""

    email: Email | None = None
    subscription: Subscription | None = None
    tags: TagList | None = None


class BulkUpsertBody(Body):
    # Rows stay raw here: each is validated on its own so that one bad row never fails the batch.
    contacts: list[Any]
    tags: TagList = []
    groupIds: list[GroupId] = []
    onDuplicate: Literal["update", "skip"] = "update"
    dedupeOn: Literal["email", "externalId"] = "email"
    restoreDeleted: bool = False
    eventKeyForNewContacts: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]+$", max_length=100)] | None = None
    returnResults: bool = False
    dryRun: bool = False


Action = Literal["created", "updated", "unchanged", "skipped", "error"]


class BulkRowError(Model):
    index: int
    email: str | None
    code: Literal["validation_error", "conflict", "unprocessed"]
    message: str


class BulkRowResult(Model):
    index: int
    id: str | None
    email: str | None
    action: Action


class BulkUpsertAnswer(Model):
    totalSubmitted: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: list[BulkRowError]


class BulkUpsertAnswerWithResults(BulkUpsertAnswer):
    results: list[BulkRowResult]


class BulkTagsBody(Body):
    contactIds: list[Identifier] = []
    emails: list[Identifier] = []
    addTags: TagList = []
    removeTags: TagList = []


class BulkTagsAnswer(Model):
    matched: int
    tagsAdded: int
    tagsRemoved: int
    # Contacts whose change could not be written before the time limit: send them again.
    unprocessedIds: list[str] = []
