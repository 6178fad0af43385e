"""Pydantic models of webhooks: HTTP bodies of /api/webhooks*, domain events, queue messages and payloads."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.schemas import MAX_PAGE, Body, Contact

EventType = Literal[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.restored",
    "contact.subscribed",
    "contact.confirmed",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
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
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048), AfterValidator(_check_url_syntax)
]
EventFilters = Annotated[list[EventFilter], Field(min_length=1, max_length=20), AfterValidator(_unique)]
KeyIds = Annotated[list[str], Field(max_length=MAX_EXCLUDED_KEYS), AfterValidator(_unique)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


# HTTP bodies


class WebhookCreate(Body):
    url: WebhookUrl
    events: EventFilters = ["*"]
    description: Description | None = None
    excludeActorKeyIds: KeyIds = []
    active: bool = True


class WebhookPatch(Body):
    """Only the fields present are applied."""

    url: WebhookUrl | None = None
    events: EventFilters | None = None
    description: Description | None = None
    excludeActorKeyIds: KeyIds | None = None
    active: bool | None = None


class Webhook(BaseModel):
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


class WebhookList(BaseModel):
    data: list[Webhook]


class DeliveriesQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None


class Delivery(BaseModel):
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


class DeliveryPage(BaseModel):
    data: list[Delivery]
    nextCursor: str | None


# Domain events


class ApiKeyActor(BaseModel):
    type: Literal["apiKey"] = "apiKey"
    apiKeyId: str


class SystemActor(BaseModel):
    type: Literal["subscribe", "schedule"]


Actor = Annotated[ApiKeyActor | SystemActor, Field(discriminator="type")]


class EventData(BaseModel):
    """The contact and who changed it, plus type-specific fields (changedFields, changes, isNew, eventKey, ...)."""

    model_config = ConfigDict(extra="allow")

    contact: Contact
    actor: Actor


class WebhookPayload(BaseModel):
    """What an endpoint receives: the body of the signed POST."""

    id: str
    type: EventType
    createdAt: str
    data: EventData


class Event(WebhookPayload):
    """A domain event as it travels on the events queue: the payload plus the tenant it belongs to."""

    tenantId: str

    def payload(self) -> WebhookPayload:
        return WebhookPayload(id=self.id, type=self.type, createdAt=self.createdAt, data=self.data)


# Queue messages


class EventBatchMessage(BaseModel):
    """Many events in one SQS message (body: "gz:" + base64 of this model's JSON, zlib-compressed)."""

    kind: Literal["events"] = "events"
    events: list[Event]
    redeliveries: int = 0  # times the delivery function failed on it unexpectedly and re-enqueued it


class DeliveryMessage(BaseModel):
    """One delivery to attempt (again) once `dueAt` (epoch seconds) has come; longer waits hop."""

    kind: Literal["delivery"] = "delivery"
    tenantId: str
    webhookId: str
    deliveryId: str
    attempt: int  # the attempt this message asks for; a stale or repeated message is ignored
    dueAt: int
    redeliveries: int = 0


class DeadLetter(BaseModel):
    """What the dead-letter queue receives for a delivery that failed its last attempt."""

    kind: Literal["failed_delivery"] = "failed_delivery"
    tenantId: str
    webhookId: str
    deliveryId: str
    attempts: int
    lastStatusCode: int | None
    lastError: str | None
    event: WebhookPayload


QueueMessage = Annotated[EventBatchMessage | DeliveryMessage, Field(discriminator="kind")]
