"""Pydantic models: the one definition of every body that crosses the HTTP boundary."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_CUSTOM_FIELDS_BYTES = 8 * 1024
MAX_TAGS = 500
MAX_PAGE = 100

Scope = Literal["contacts:read", "contacts:write", "webhooks:manage", "keys:manage"]
ALL_SCOPES: list[Scope] = ["contacts:read", "contacts:write", "webhooks:manage", "keys:manage"]
READ: Final[Scope] = "contacts:read"
WRITE: Final[Scope] = "contacts:write"
WEBHOOKS: Final[Scope] = "webhooks:manage"
KEYS: Final[Scope] = "keys:manage"
Subscription = Literal["confirmed", "unconfirmed", "unsubscribed"]


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise ValueError("must be a valid email address of at most 254 characters")
    return email


def _normalize_tags(tags: list[str]) -> list[str]:
    return sorted(set(tags))


def _check_custom_fields(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    if (
        fields is not None
        and len(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_CUSTOM_FIELDS_BYTES
    ):
        raise ValueError("must be at most 8 KB as JSON")
    return fields


Email = Annotated[str, AfterValidator(normalize_email)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TagList = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_normalize_tags)]
GroupIdList = Annotated[list[str], Field(max_length=MAX_TAGS), AfterValidator(_normalize_tags)]
CustomFields = Annotated[dict[str, Any] | None, AfterValidator(_check_custom_fields)]


class Body(BaseModel):
    """Request bodies reject unknown fields, so a typo is a 422 and not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


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


class SearchBody(Body):
    query: str | None = None
    filters: SearchFilters = SearchFilters()
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None


class ListQuery(BaseModel):
    """Query string of GET /api/contacts (unknown parameters are ignored, as browsers add some)."""

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None
    search: str | None = None
    status: str | None = None
    tag: str | None = None
    group: str | None = None
    subscription: Subscription | None = None


class Contact(BaseModel):
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


class ContactPage(BaseModel):
    data: list[Contact]
    nextCursor: str | None


class Deleted(BaseModel):
    id: str
    deleted: bool = True
    permanent: bool | None = None


class KeyCreate(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    scopes: Annotated[list[Scope], Field(min_length=1)]


class ApiKey(BaseModel):
    id: str
    name: str
    scopes: list[str]
    prefix: str
    createdAt: str
    revokedAt: str | None = None


class ApiKeyCreated(ApiKey):
    key: str


class ApiKeyList(BaseModel):
    data: list[ApiKey]


class TenantCreated(BaseModel):
    tenantId: str
    apiKey: str
    scopes: list[Scope]
