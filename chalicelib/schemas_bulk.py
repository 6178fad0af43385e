"""Pydantic models of the bulk and group bodies (kept beside schemas.py, which holds the single-contact ones)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from chalicelib.schemas import MAX_PAGE, Body, ContactFields, Email, Subscription, TagList, Url

MAX_BULK_ROWS = 10_000
MAX_BULK_TAG_IDENTIFIERS = 10_000
MAX_GROUP_MEMBERS_PER_CALL = 500

GroupId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Identifier = Annotated[str, StringConstraints(max_length=254)]


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


class BulkRowError(BaseModel):
    index: int
    email: str | None
    code: Literal["validation_error", "conflict", "unprocessed"]
    message: str


class BulkRowResult(BaseModel):
    index: int
    id: str | None
    email: str | None
    action: Action


class BulkUpsertAnswer(BaseModel):
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


class BulkTagsAnswer(BaseModel):
    matched: int
    tagsAdded: int
    tagsRemoved: int
    # Contacts whose change could not be written before the time limit: send them again.
    unprocessedIds: list[str] = []


class GroupCreate(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    doubleOptIn: bool = False
    confirmRedirectUrl: Url | None = None

    @field_validator("confirmRedirectUrl")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class GroupPatch(GroupCreate):
    """Only the fields present are applied; `confirmRedirectUrl: null` clears it."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = None  # type: ignore[assignment]
    doubleOptIn: bool | None = None  # type: ignore[assignment]


class Group(BaseModel):
    id: str
    name: str
    doubleOptIn: bool
    confirmRedirectUrl: str | None
    createdAt: str
    updatedAt: str


class GroupWithCount(Group):
    memberCount: int


class GroupPage(BaseModel):
    data: list[Group]
    nextCursor: str | None


class GroupListQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None


class GroupMembersBody(Body):
    """contactIds and/or emails; for detach, a body with neither means every member."""

    contactIds: list[Identifier] | None = None
    emails: list[Identifier] | None = None


class ContactGroupsBody(Body):
    groupIds: Annotated[list[GroupId], Field(min_length=1, max_length=500)]


class AttachAnswer(BaseModel):
    attached: int
    alreadyMember: int
    notFound: int
    unprocessedIds: list[str] = []


class DetachAnswer(BaseModel):
    detached: int
    unprocessedIds: list[str] = []
