"""Contacts, stream changes and events built in memory for pure-logic tests."""

from __future__ import annotations

from typing import Any

from chalicelib.repository.models import ContactItem
from chalicelib.schemas.events import Actor, LastChange
from chalicelib.services.contact_changes import ContactChange

T0 = "2026-05-14T00:00:00.000Z"


def item(**fields: Any) -> ContactItem:
    base: dict[str, Any] = {
        "contact_id": "c1",
        "subscription": "unconfirmed",
        "source": "bulk",
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(fields)
    tenant = base.pop("tenant_id", "t1")
    email = base.pop("email", "a@example.com")
    return ContactItem(tenant, email, **base)


def noted(contact: ContactItem, type: str, actor: Actor, **note: Any) -> ContactItem:
    contact.last_change = LastChange.model_validate({"type": type, "actor": actor, **note}).model_dump(
        mode="json", exclude_none=True
    )
    return contact


def change(
    old: ContactItem | None,
    new: ContactItem | None,
    *,
    sequence: int = 100,
    event_id: str = "e1",
    committed_at: str = T0,
) -> ContactChange:
    """A change as the relay would parse it from a stream record (the note read from the image that has it)."""
    record: dict[str, Any] = {
        "eventID": event_id,
        "dynamodb": {
            "SequenceNumber": str(sequence),
            "Keys": {"tenantId": {"S": (new or old).tenant_id}},  # type: ignore[union-attr]
        },
    }
    if old is not None:
        record["dynamodb"]["OldImage"] = old.serialize()
    if new is not None:
        record["dynamodb"]["NewImage"] = new.serialize()
    from datetime import datetime

    record["dynamodb"]["ApproximateCreationDateTime"] = datetime.fromisoformat(committed_at).timestamp()
    from chalicelib.services.contact_changes import from_stream_record

    return from_stream_record(record)
