"""Domain events and the queue messages that carry them (never HTTP request bodies)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from chalicelib.schemas.common import Model
from chalicelib.schemas.contacts import Contact

EventType = Literal[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.restored",
    "contact.subscribed",
    "contact.confirmed",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


class ApiKeyActor(Model):
    type: Literal["apiKey"] = "apiKey"
    apiKeyId: str


class SystemActor(Model):
    type: Literal["subscribe", "schedule"]


Actor = Annotated[ApiKeyActor | SystemActor, Field(discriminator="type")]


class EventData(Model):
    """The contact and who changed it, plus type-specific fields (changedFields, changes, isNew, eventKey, ...)."""

    model_config = ConfigDict(extra="allow")

    contact: Contact
    actor: Actor


class WebhookPayload(Model):
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


class EventBatchMessage(Model):
    """Many events in one SQS message (body: "gz:" + base64 of this model's JSON, zlib-compressed)."""

    kind: Literal["events"] = "events"
    events: list[Event]
    redeliveries: int = 0  # times the delivery function failed on it unexpectedly and re-enqueued it


class DeliveryMessage(Model):
    """One delivery to attempt (again) once `dueAt` (epoch seconds) has come; longer waits hop."""

    kind: Literal["delivery"] = "delivery"
    tenantId: str
    webhookId: str
    deliveryId: str
    attempt: int  # the attempt this message asks for; a stale or repeated message is ignored
    dueAt: int
    redeliveries: int = 0


class DeadLetter(Model):
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
