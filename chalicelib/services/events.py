"""Domain events: build them, pack many into each SQS message, publish them with few SQS calls.

Every write path calls `publish([...])` after its write succeeded, e.g.

    events.publish([events.contact_event("contact.created", tenant_id, contact, events.actor_of(principal))])

Events are packed into messages of at most ~250 KB (zlib + base64 of their JSON,
at most MAX_EVENTS_PER_MESSAGE each), and messages are sent with
SendMessageBatch (10 a call, 256 KiB a call), so 10,000 events cost a handful
of SQS calls. See docs/webhooks.md.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import TypeAdapter

from chalicelib.clock import now_iso
from chalicelib.repository import queues
from chalicelib.schemas.contacts import Contact
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
from chalicelib.settings import settings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 250_000  # under SQS's 256 KiB, leaving room for the request's own overhead
MAX_EVENTS_PER_MESSAGE = 500  # bounds the work one SQS record asks of the delivery function
COMPRESSED_PREFIX = "gz:"

SUBSCRIBE_ACTOR = SystemActor(type="subscribe")
SCHEDULE_ACTOR = SystemActor(type="schedule")
# Fields that change on every write and so never count as "changed".
_NOT_COMPARED = {"updatedAt"}

_message_adapter: TypeAdapter[QueueMessage] = TypeAdapter(QueueMessage)


def actor_of(principal: Principal) -> ApiKeyActor:
    return ApiKeyActor(apiKeyId=principal.key_id)


_sequence_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_event_id() -> str:
    """Time-ordered and unguessable: 12 hex digits of milliseconds, a 16-bit sequence, then 64 random bits.

    The sequence counts events of one millisecond in this process, so ids made one after
    the other sort in that order (activity timelines rely on it for equal timestamps).
    """
    global _last_ms, _sequence
    with _sequence_lock:
        ms = max(int(time.time() * 1000), _last_ms)
        _sequence = _sequence + 1 if ms == _last_ms else 0
        if _sequence > 0xFFFF:
            ms, _sequence = ms + 1, 0
        _last_ms = ms
        sequence = _sequence
    return f"evt_{ms:012x}{sequence:04x}{secrets.token_hex(8)}"


def contact_event(
    type: EventType, tenant_id: str, contact: Contact | dict[str, Any], actor: Actor, **data: Any
) -> Event:
    """An event about one contact; `data` adds type-specific fields (changedFields, isNew, groupId, eventKey, ...)."""
    body = EventData.model_validate({"contact": contact, "actor": actor, **data})
    return Event(id=new_event_id(), type=type, createdAt=now_iso(), tenantId=tenant_id, data=body)


def changes_between(before: Contact, after: Contact) -> dict[str, dict[str, Any]]:
    """Field name -> {"old", "new"} for every field that differs (updatedAt aside)."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {
        name: {"old": old.get(name), "new": new.get(name)}
        for name in new
        if name not in _NOT_COMPARED and old.get(name) != new.get(name)
    }


def contact_change_event(
    type: EventType, tenant_id: str, before: Contact, after: Contact, actor: Actor, **data: Any
) -> Event:
    """An event about a changed contact: carries `changedFields` (sorted) and `changes` (old and new values)."""
    changes = changes_between(before, after)
    return contact_event(type, tenant_id, after, actor, changedFields=sorted(changes), changes=changes, **data)


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


def publish(events: Sequence[Event]) -> int:
    """Send events to the events queue; answer the number of SQS calls made.

    Never raises: it runs after the write it reports has succeeded, so a
    failure here is logged with the unsent events (for a replay) instead of
    turning a done write into an error answer.
    """
    if not events:
        return 0
    try:
        bodies = pack(events)
        return queues.send(settings.events_queue, [queues.OutgoingMessage(body) for body in bodies])
    except Exception:
        log.exception(
            "could not publish %d events; unsent: %s",
            len(events),
            [event.model_dump_json() for event in events],
        )
        return 0
