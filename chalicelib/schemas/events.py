"""Domain events and the queue messages that carry them (never HTTP request bodies)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


class LastChange(Model):
    """Written on the contact item with every change (attribute `lastChange`): what the stream's images
    cannot tell the relay — who acted, through which route, and what the write means.

    Every write of a contact sets it anew, so a stream record's new image always carries the note of
    the write that produced it (see docs/webhooks.md).
    """

    type: EventType  # what the write stands for; an insert is always also "contact.created"
    actor: Actor
    origin: str | None = None  # the route ("bulk") when the activity timeline should show it as the source
    eventKey: str | None = None  # bulk's eventKeyForNewContacts: only on contact.created
    groupId: str | None = None  # subscribe and confirm
    formType: str | None = None  # subscribe
    # Set by an erase just before it deletes the item, so the REMOVE record's old image says "erased"
    # (an email change removes the old item too, and that is no deletion).
    erased: bool = False
    # An email change moves the item: the new item carries the old one's raw attributes, so the relay
    # reports one contact.updated with the old values instead of a deletion and a creation.
    previous: dict[str, Any] | None = None


class ParkedStreamRecord(Model):
    """A stream record the relay could not turn into a change or its events (queue "stream-parked").

    The shard moves on; an operator reads these (an alarm fires on any), fixes the cause and replays
    the record from `record` (zlib + base64 of the Lambda record's JSON, when it fits in one message).
    """

    kind: Literal["parked_stream_record"] = "parked_stream_record"
    eventID: str
    eventName: str | None
    sequenceNumber: str | None
    keys: dict[str, Any] | None
    stage: str  # "parse" or the consumer that refused it
    reason: str
    parkedAt: str
    record: str | None  # None when the record alone is larger than a message may be


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
