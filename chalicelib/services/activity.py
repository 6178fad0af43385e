"""Contacts' activity timelines, derived from the domain events and from webhook delivery attempts.

The events queue's consumer (`webhook_delivery.deliver_webhooks`) hands every
event batch to `record_events`, and every delivery attempt it makes to
`delivery_entry`; entries are written with BatchWriteItem. Why events and not
the write paths themselves, and how stale the timeline can be: docs/activity.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import errors
from chalicelib.repository import activity as repo
from chalicelib.repository import contacts as contacts_repo
from chalicelib.repository.batch import Deadline
from chalicelib.repository.models import ActivityItem, DeliveryItem
from chalicelib.schemas.activity import ActivityEntry, ActivityPage, ActivityQuery
from chalicelib.schemas.events import Event
from chalicelib.services.auth import Principal

log = logging.getLogger(__name__)

# Events older than this are not turned into activity: the erasure tombstones outlive them.
MAX_EVENT_AGE_DAYS = repo.TOMBSTONE_DAYS - 5
_ACTOR_SOURCES = {"apiKey": "api", "subscribe": "subscribe", "schedule": "schedule"}


def _source(event: Event) -> str:
    """How the change came: a creation's own source (api, bulk, subscribe:<group>, ...), the route that
    made it (`origin`: bulk), else who made it."""
    if event.type == "contact.created":
        return event.data.contact.source
    origin = (event.data.model_extra or {}).get("origin")
    if isinstance(origin, str):
        return origin
    return _ACTOR_SOURCES.get(event.data.actor.type, event.data.actor.type)


def _added_removed(changes: dict[str, Any], name: str) -> tuple[list[str], list[str]]:
    change = changes.get(name)
    if not change:
        return [], []
    old, new = set(change.get("old") or ()), set(change.get("new") or ())
    return sorted(new - old), sorted(old - new)


def details_of(event: Event) -> dict[str, Any]:
    """What the entry shows: the actor, the event's own fields (changes, groupId, ...), tag and group deltas."""
    data = event.data.model_dump(mode="json")
    contact = data.pop("contact")
    details: dict[str, Any] = {"actor": data.pop("actor"), **data}
    if event.type == "contact.created":
        details["source"] = contact["source"]
        details["email"] = contact["email"]
        details["tagsAdded"] = contact["tags"]
        details["groupsJoined"] = contact["groupIds"]
        return details
    changes = data.get("changes") or {}
    details["tagsAdded"], details["tagsRemoved"] = _added_removed(changes, "tags")
    details["groupsJoined"], details["groupsLeft"] = _added_removed(changes, "groupIds")
    return details


def entry_for_event(event: Event) -> ActivityItem:
    contact_id = event.data.contact.id
    return ActivityItem(
        repo.activity_pk(event.tenantId, contact_id),
        repo.activity_sk(event.createdAt, event.id),
        entry_id=event.id,
        type=event.type,
        occurred_at=event.createdAt,
        source=_source(event),
        details=details_of(event),
    )


def _erasure(event: Event) -> bool:
    extra = event.data.model_extra or {}
    return event.type == "contact.deleted" and bool(extra.get("permanent"))


def _too_old(event: Event, now: datetime) -> bool:
    try:
        created = datetime.strptime(event.createdAt, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return now - created > timedelta(days=MAX_EVENT_AGE_DAYS)


def record_events(events: Sequence[Event], deadline: Deadline | None = None) -> int:
    """Write one entry per event (idempotent); an erasure deletes the timeline instead. Answer entries kept."""
    now = datetime.now(UTC)
    for event in events:
        if _erasure(event):
            # Also done by the API right after the delete; repeated here so that erasure is at-least-once.
            repo.erase(event.tenantId, event.data.contact.id)
    entries = [entry_for_event(event) for event in events if not _erasure(event) and not _too_old(event, now)]
    return repo.append(entries, deadline)


def delivery_entry(delivery: DeliveryItem) -> ActivityItem | None:
    """The entry for one delivery attempt just recorded, or None when the payload names no contact."""
    try:
        contact_id = json.loads(delivery.payload)["data"]["contact"]["id"]
    except (ValueError, KeyError, TypeError):
        return None
    attempt = int(delivery.attempts or 0)
    entry_id = f"{delivery.delivery_id}.{attempt}"
    delivered = delivery.status == "succeeded"
    details = {
        "webhookId": delivery.webhook_id,
        "deliveryId": delivery.delivery_id,
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "attempt": attempt,
        "statusCode": delivery.last_status_code,
        "error": delivery.last_error,
        "willRetry": delivery.status == "pending",
        "nextAttemptAt": delivery.next_attempt_at,
    }
    return ActivityItem(
        repo.activity_pk(delivery.tenant_id, contact_id),
        repo.activity_sk(delivery.updated_at, entry_id),
        entry_id=entry_id,
        type="webhook.delivered" if delivered else "webhook.failed",
        occurred_at=delivery.updated_at,
        source="webhook",
        details=details,
    )


def record_entries(entries: Iterable[ActivityItem | None]) -> None:
    """Best effort (webhook attempts): a failure is logged with the entries, never raised."""
    found = [entry for entry in entries if entry is not None]
    try:
        repo.append(found)
    except Exception:
        log.exception("could not record %d activity entries: %s", len(found), [e.serialize() for e in found])


def list_activity(principal: Principal, contact_id: str, query: ActivityQuery) -> ActivityPage:
    """A page of the contact's timeline, newest first; 404 for an unknown or erased contact."""
    if contacts_repo.get_by_id(principal.tenant_id, contact_id) is None:
        raise errors.NotFound("No such contact.")
    items = repo.page(principal.tenant_id, contact_id, query.skip, query.take)
    data = [
        ActivityEntry(
            id=item.entry_id,
            type=item.type,
            occurredAt=item.occurred_at,
            source=item.source,
            details=item.details or {},
        )
        for item in items
    ]
    return ActivityPage(data=data, skip=query.skip, take=query.take)


def erase_activity(tenant_id: str, contact_id: str) -> None:
    """A permanent delete's share: the contact's whole timeline, and a tombstone against late events."""
    repo.erase(tenant_id, contact_id)
