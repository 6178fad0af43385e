"""Shared pieces of every body: scopes, field types, limits and the strict request base class."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from chalicelib.jsonbody import depth

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_CUSTOM_FIELDS_BYTES = 8 * 1024
# customFields itself is level 1: {"a": {"b": {"c": {"d": {"e": 1}}}}} is 5 levels, the most allowed.
MAX_CUSTOM_FIELDS_DEPTH = 5
# Control characters (C0, DEL, C1) have no place in text a person typed; tab and line breaks are kept in
# free text (a company's address line may hold one) but never in emails, URLs or tags.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
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
    """Trimmed (spaces, tabs and line breaks around it) and lower-cased; anything unprintable inside is refused."""
    email = value.strip(" \t\r\n").lower()
    if not _is_token(email):
        raise ValueError("must not contain whitespace or control characters")
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise ValueError("must be a valid email address of at most 254 characters")
    return email


def _is_token(value: str) -> bool:
    """No whitespace and nothing unprintable (str.isprintable is False for controls and Unicode separators)."""
    return value.isprintable() and not any(char.isspace() for char in value)


def no_controls(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def check_url_characters(value: str) -> str:
    if not _is_token(value):
        raise ValueError("must not contain whitespace or control characters")
    return value


def _check_tag(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must not contain control characters or line breaks")
    return value


def _reject_null(value: Any) -> Any:
    """For optional fields where null would read as "all" or "default": absent is fine, null is a 422."""
    if value is None:
        raise ValueError("may not be null; leave the field out instead")
    return value


def _normalize_tags(tags: list[str]) -> list[str]:
    return sorted(set(tags))


def _check_custom_fields(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    # Depth first: it also bounds the recursion of json.dumps below.
    if depth(fields, MAX_CUSTOM_FIELDS_DEPTH) > MAX_CUSTOM_FIELDS_DEPTH:
        raise ValueError(f"must not nest deeper than {MAX_CUSTOM_FIELDS_DEPTH} levels (customFields itself is one)")
    if len(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError("must be at most 8 KB as JSON")
    return fields


Email = Annotated[str, AfterValidator(normalize_email)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255), AfterValidator(no_controls)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32), AfterValidator(no_controls)]
# Trimmed around (like every text field), but never whitespace or a control character inside:
# urlsplit silently drops tabs and line breaks, so "https://a.example/\r\nX-Evil: 1" would pass its checks.
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048), AfterValidator(check_url_characters)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_check_tag)]
NotNull = BeforeValidator(_reject_null)
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
