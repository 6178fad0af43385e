"""Bodies and answers of /api/webhooks* and their delivery log."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.schemas.common import MAX_PAGE, Body, Model, NotNull, check_url_characters, no_controls
from chalicelib.schemas.events import EventType

EventFilter = Literal[EventType, "*"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]
MAX_EXCLUDED_KEYS = 100


def _check_url_syntax(value: str) -> str:
    """Syntax only; what the URL points at (https, public addresses) is checked by the webhooks service."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("must be a valid http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    if port == 0:
        raise ValueError("must have a valid port")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    AfterValidator(check_url_characters),  # before the syntax check: urlsplit drops tabs and line breaks
    AfterValidator(_check_url_syntax),
]
EventFilters = Annotated[list[EventFilter], Field(min_length=1, max_length=20), AfterValidator(_unique)]
KeyIds = Annotated[list[str], Field(max_length=MAX_EXCLUDED_KEYS), AfterValidator(_unique)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(no_controls)]


class WebhookCreate(Body):
    url: WebhookUrl
    events: EventFilters = ["*"]
    description: Description | None = None
    excludeActorKeyIds: KeyIds = []
    active: bool = True


class WebhookPatch(Body):
    """Only the fields present are applied; null clears only what may be empty (description, excludeActorKeyIds)."""

    url: Annotated[WebhookUrl | None, NotNull] = None
    events: Annotated[EventFilters | None, NotNull] = None
    description: Description | None = None
    excludeActorKeyIds: KeyIds | None = None
    active: Annotated[bool | None, NotNull] = None


class Webhook(Model):
    id: str
    url: str
    events: list[str]
    description: str | None
    excludeActorKeyIds: list[str]
    active: bool
    createdAt: str
    updatedAt: str


class WebhookDeleted(Webhook):
    deleted: bool = True


class WebhookCreated(Webhook):
    secret: str  # shown only in the answer to POST /api/webhooks


class WebhookList(Model):
    data: list[Webhook]


class DeliveriesQuery(Model):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None


class Delivery(Model):
    id: str
    webhookId: str
    eventId: str
    eventType: str
    status: DeliveryStatus
    attempts: int
    lastStatusCode: int | None
    lastError: str | None
    nextAttemptAt: str | None
    createdAt: str
    updatedAt: str


class DeliveryPage(Model):
    data: list[Delivery]
    nextCursor: str | None
