"""Domain events and the queue messages that carry them (never HTTP request bodies)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.schemas.contacts import Contact
from chalicelib.schemas.imports import Import

EventType = Literal[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.restored",
    "contact.subscribed",
    "contact.confirmed",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
# Events about an import as a whole (docs/imports.md): `data` is the import object plus the actor.
ImportEventType = Literal["import.completed", "import.failed"]


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


class ImportEventData(Import):
    actor: Actor


class ImportWebhookPayload(BaseModel):
    id: str
    type: ImportEventType
    createdAt: str
    data: ImportEventData


class ImportEvent(ImportWebhookPayload):
    """An import event on the events queue; delivered like contact events, never in activity timelines."""

    tenantId: str

    def payload(self) -> ImportWebhookPayload:
        return ImportWebhookPayload(id=self.id, type=self.type, createdAt=self.createdAt, data=self.data)


AnyEvent = Event | ImportEvent


class EventBatchMessage(BaseModel):
    """Many events in one SQS message (body: "gz:" + base64 of this model's JSON, zlib-compressed)."""

    kind: Literal["events"] = "events"
    events: list[AnyEvent]
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
    event: WebhookPayload | ImportWebhookPayload


QueueMessage = Annotated[EventBatchMessage | DeliveryMessage, Field(discriminator="kind")]
