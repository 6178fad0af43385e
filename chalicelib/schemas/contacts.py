"""Bodies and answers of the single-contact routes, listing and search."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from chalicelib.schemas.common import (
    MAX_PAGE,
    MAX_TAGS,
    Body,
    CustomFields,
    Email,
    GroupIdList,
    Model,
    Name,
    Phone,
    Subscription,
    Tag,
    TagList,
    Url,
    _normalize_tags,
)


class ContactFields(Body):
    firstName: Name | None = None
    lastName: Name | None = None
    company: Name | None = None
    jobTitle: Name | None = None
    phone: Phone | None = None
    website: Url | None = None
    status: Name | None = None
    externalId: Name | None = None
    customFields: CustomFields = None


class ContactCreate(ContactFields):
    email: Email
    subscription: Subscription = "unconfirmed"
    tags: TagList = []
    groupIds: GroupIdList = []


class ContactPatch(ContactFields):
    """Only the fields present are applied; `null` clears a nullable field; tags and groupIds replace."""

    email: Email | None = None
    subscription: Subscription | None = None
    tags: TagList | None = None
    groupIds: GroupIdList | None = None


class TagsBody(Body):
    tags: Annotated[list[Tag], Field(min_length=1, max_length=MAX_TAGS), AfterValidator(_normalize_tags)]


class SearchFilters(Body):
    status: str | None = None
    tags: list[str] = []
    groupIds: list[str] = []
    subscription: Subscription | None = None
    customFields: dict[str, Any] = {}


SortField = Literal["createdAt", "updatedAt", "email"]
SortOrder = Literal["asc", "desc"]
# Long enough for any search box; a longer text is a 422 instead of a costly plan.
SearchText = Annotated[str, Field(max_length=256)]


class SortSpec(Body):
    field: SortField = "email"
    order: SortOrder = "asc"


class SearchBody(Body):
    query: SearchText | None = None
    filters: SearchFilters = Field(default_factory=SearchFilters)  # an instance here would build it at import
    sort: SortSpec = Field(default_factory=SortSpec)
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None
    includeTotal: bool = False


class ListQuery(Model):
    """Query string of GET /api/contacts (unknown parameters are ignored, as browsers add some)."""

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None
    search: SearchText | None = None
    status: str | None = None
    tag: str | None = None
    group: str | None = None
    subscription: Subscription | None = None
    sort: SortField = "email"
    order: SortOrder = "asc"
    includeTotal: bool = False


class Contact(Model):
    id: str
    email: str
    firstName: str | None = None
    lastName: str | None = None
    company: str | None = None
    jobTitle: str | None = None
    phone: str | None = None
    website: str | None = None
    status: str | None = None
    subscription: Subscription
    externalId: str | None = None
    source: str
    tags: list[str]
    groupIds: list[str]
    customFields: dict[str, Any]
    createdAt: str
    updatedAt: str
    deletedAt: str | None = None


class ContactPage(Model):
    data: list[Contact]
    nextCursor: str | None
    # Ids of stored contacts on this page that could not be rendered (logged; left out of `data`), so that
    # one broken item never takes the tenant's listing down. Absent when empty.
    unrenderableIds: list[str] = Field(default_factory=list, exclude_if=lambda ids: not ids)


class CountedContactPage(ContactPage):
    """A page asked for with `includeTotal`: `total` is null unless one counter answers the filters exactly.

    Without `includeTotal` the answer has no `total` at all (a plain ContactPage), as API.md says
    "also carries" only when asked.
    """

    total: int | None
