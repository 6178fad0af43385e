"""Domain events: derived from committed changes by the relay, packed many into each SQS message.

No write path publishes: each writes its `lastChange` note with the change, and the
relay (`services/relay.py`) hands the contacts table's stream to `apply_changes`,
which turns each change into its events (`events_for_change`) with ids derived
from the stream record, so a replayed batch sends the very same events again.

Events are packed into messages of at most ~250 KB (zlib + base64 of their JSON,
at most MAX_EVENTS_PER_MESSAGE each), and messages are sent with
SendMessageBatch (10 a call, 256 KiB a call), so 10,000 events cost a handful
of SQS calls. See docs/webhooks.md.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from chalicelib.repository import queues
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.events import (
    Actor,
    ApiKeyActor,
    DeliveryMessage,
    Event,
    EventBatchMessage,
    EventData,
    EventType,
    QueueMessage,
    SystemActor,
)
from chalicelib.services.auth import Principal
from chalicelib.services.contact_changes import ContactChange, Refused, changed_fields
from chalicelib.services.contact_writes import to_contact
from chalicelib.settings import settings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 250_000  # under SQS's 256 KiB, leaving room for the request's own overhead
MAX_EVENTS_PER_MESSAGE = 500  # bounds the work one SQS record asks of the delivery function
COMPRESSED_PREFIX = "gz:"

SUBSCRIBE_ACTOR = SystemActor(type="subscribe")
SCHEDULE_ACTOR = SystemActor(type="schedule")

_message_adapter: TypeAdapter[QueueMessage] = TypeAdapter(QueueMessage)


def actor_of(principal: Principal) -> ApiKeyActor:
    return ApiKeyActor(apiKeyId=principal.key_id)


def event_id_for(change: ContactChange, index: int) -> str:
    """Deterministic from the stream record, so a replayed batch makes the same ids (and deliveries dedupe).

    `evt_`, 12 hex digits of the commit's milliseconds, the record's sequence number (34 hex digits:
    one contact's changes of one millisecond sort in commit order), the event's index among the
    record's events, and 8 hex digits of the record's eventID (unique across shards).
    """
    ms = _epoch_ms(change.committed_at)
    sequence = int(change.sequence_number) if change.sequence_number.isdigit() else 0
    digest = hashlib.sha256(change.event_id.encode()).hexdigest()[:8]
    return f"evt_{ms:012x}{sequence:034x}{index:x}{digest}"


def _epoch_ms(iso: str) -> int:
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _event(
    change: ContactChange, index: int, type: EventType, contact: ContactItem, actor: Actor, **data: Any
) -> Event:
    body = EventData.model_validate({"contact": to_contact(contact), "actor": actor, **data})
    return Event(
        id=event_id_for(change, index), type=type, createdAt=change.committed_at, tenantId=change.tenant_id, data=body
    )


def field_changes(old: ContactItem, new: ContactItem) -> dict[str, dict[str, Any]]:
    """Field name -> {"old", "new"} (API values) for every field `changed_fields` reports."""
    names = changed_fields(old, new)
    if not names:
        return {}
    before, after = to_contact(old).model_dump(mode="json"), to_contact(new).model_dump(mode="json")
    return {name: {"old": before.get(name), "new": after.get(name)} for name in names}


def events_for_change(change: ContactChange) -> list[Event]:
    """The domain events one committed change stands for (none for a write that changed no field).

    The images say what changed; the write's `lastChange` note says who did it and what it means.
    """
    note = change.note
    if change.kind == "removed":
        if change.old is None or note is None or not note.erased:
            return []  # an email change removing the item at its old email: the insert reports it
        return [_event(change, 0, "contact.deleted", change.old, note.actor, permanent=True)]
    new = change.new
    if new is None or note is None:
        raise ValueError("a contact written without its lastChange note")
    common: dict[str, Any] = {"origin": note.origin} if note.origin else {}
    old = change.old if change.kind == "updated" else change.moved_from
    if old is None:
        created_data = {**common, **({"eventKey": note.eventKey} if note.eventKey else {})}
        found = [_event(change, 0, "contact.created", new, note.actor, **created_data)]
        if note.type == "contact.subscribed":
            signup = {"isNew": True, "groupId": note.groupId, "formType": note.formType}
            found.append(_event(change, 1, "contact.subscribed", new, note.actor, **common, **signup))
        return found
    changes = field_changes(old, new)
    if not changes:
        return []  # only the note or the version moved (an erase marking the item, a no-op write)
    data: dict[str, Any] = {**common, "changedFields": sorted(changes), "changes": changes}
    if note.type == "contact.subscribed":
        data.update(isNew=False, groupId=note.groupId, formType=note.formType)
    elif note.type == "contact.confirmed":
        data.update(groupId=note.groupId)
    return [_event(change, 0, note.type, new, note.actor, **data)]


def apply_changes(changes: Sequence[ContactChange]) -> list[Refused]:
    """The relay's events consumer: every change's events onto the events queue, packed, in stream order.

    Raises when SQS refuses (the stream retries the batch; the ids are the same the second time,
    so deliveries and activity entries are not doubled). Answers the changes it cannot convert.
    """
    batch: list[Event] = []
    refused: list[Refused] = []
    for change in changes:
        try:
            found = events_for_change(change)
            bodies = [event.model_dump_json() for event in found]  # proves each event serialises
        except Exception as error:
            log.exception("no events for stream record %s", change.event_id)
            refused.append(Refused(change, f"{type(error).__name__}: {error}"))
            continue
        if any(len(body) > MAX_MESSAGE_BYTES for body in bodies):
            refused.append(Refused(change, "an event of this change is larger than an SQS message"))
            continue
        batch.extend(found)
    send(batch)
    return refused


# Packing


def encode_events(serialized: Sequence[str], redeliveries: int = 0) -> str:
    """One message body for already serialized events: zlib + base64 of the batch's JSON."""
    head = f'{{"kind":"events","redeliveries":{int(redeliveries)},"events":['
    raw = (head + ",".join(serialized) + "]}").encode()
    return COMPRESSED_PREFIX + base64.b64encode(zlib.compress(raw, 6)).decode()


def encode_message(message: EventBatchMessage | DeliveryMessage) -> str:
    if isinstance(message, EventBatchMessage):
        return encode_events([event.model_dump_json() for event in message.events], message.redeliveries)
    return message.model_dump_json()


def decode_message(body: str) -> QueueMessage:
    """A queue message back from its body; raises ValueError on anything malformed."""
    if body.startswith(COMPRESSED_PREFIX):
        raw = zlib.decompress(base64.b64decode(body[len(COMPRESSED_PREFIX) :]))
        return _message_adapter.validate_json(raw)
    return _message_adapter.validate_json(body)


def pack(events: Iterable[Event]) -> list[str]:
    """Message bodies holding every event, each under MAX_MESSAGE_BYTES, in order.

    An event that cannot be serialised or is too large for a message is logged and left out:
    one bad contact must never cost the other contacts of its batch their events.
    """
    serialized = [text for text in (_serialize(event) for event in events) if text is not None]
    bodies: list[str] = []
    # A first cut by count and raw size; JSON of contacts compresses about 5-10 times, so
    # a chunk that still does not fit after compression is halved until it does.
    chunk: list[str] = []
    raw_size = 0
    for text in serialized:
        if chunk and (len(chunk) == MAX_EVENTS_PER_MESSAGE or raw_size + len(text) > 4 * MAX_MESSAGE_BYTES):
            bodies.extend(_fit(chunk))
            chunk, raw_size = [], 0
        chunk.append(text)
        raw_size += len(text)
    if chunk:
        bodies.extend(_fit(chunk))
    return bodies


def _serialize(event: Event) -> str | None:
    try:
        return event.model_dump_json()
    except ValueError:  # pydantic's serialisation error, e.g. a value nested too deep
        log.exception("event %s (%s) cannot be serialised; left out of its batch", event.id, event.type)
        return None


def _fit(chunk: list[str]) -> list[str]:
    body = encode_events(chunk)
    if len(body) <= MAX_MESSAGE_BYTES:
        return [body]
    if len(chunk) == 1:
        log.error(
            "an event needs %d bytes, over the %d an SQS message may hold; left out: %s",
            len(body),
            MAX_MESSAGE_BYTES,
            chunk[0][:2000],
        )
        return []
    half = len(chunk) // 2
    return _fit(chunk[:half]) + _fit(chunk[half:])


def send(events: Sequence[Event]) -> int:
    """Send events to the events queue; answer the number of SQS calls. Raises when SQS refuses them."""
    if not events:
        return 0
    bodies = pack(events)
    return queues.send(settings.events_queue, [queues.OutgoingMessage(body) for body in bodies])
