"""Shared pieces of every body: scopes, field types, limits and the strict request base class."""

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


class Model(BaseModel):
    """Base of every body: pydantic builds a model's validator on first use, not at import (cold start).

    Building them all at import was about a third of `import app`; a request needs only its own few.
    """

    model_config = ConfigDict(defer_build=True)


class Body(Model):
    """Request bodies reject unknown fields, so a typo is a 422 and not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class Deleted(Model):
    id: str
    deleted: bool = True
    permanent: bool | None = None


GroupId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Identifier = Annotated[str, StringConstraints(max_length=254)]
