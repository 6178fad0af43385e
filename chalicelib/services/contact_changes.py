"""One committed change of a contact as the contacts table's stream reports it: what every stream consumer takes.

The relay (`app.relay_contact_changes`, an `on_dynamodb_record` handler, see
`services/relay.py`) turns each stream record into a `ContactChange` and hands the
batch, in stream order, to each consumer of `relay.CONSUMERS`: the domain events
(webhooks and activity), and the search index, counters and changes feed. A
consumer must be idempotent under a replayed batch (the stream redelivers a batch
whose handler raised) and raise on a transient failure so that the stream retries;
see docs/webhooks.md.

This module also holds the one rule of what "changed" means (`changed_fields`):
the write paths use it to skip writes that change nothing, the relay to say which
fields an event reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from chalicelib.repository.models import ContactItem
from chalicelib.schemas.events import LastChange

ChangeKind = Literal["created", "updated", "removed"]

# Attributes that change with every write and so never count as a change of the contact.
_NOT_COMPARED = {"updated_at", "version", "last_change"}
_COMPARED: tuple[tuple[str, str], ...] = tuple(
    (name, attribute.attr_name) for name, attribute in ContactItem.get_attributes().items() if name not in _NOT_COMPARED
)
_COMPARED_NAMES = tuple(name for name, _ in _COMPARED)


def contact_state(item: ContactItem) -> tuple[Any, ...]:
    """What a reader can see of a contact, to compare: equal states mean "nothing changed"."""
    return tuple([None if type(value) is set and not value else value for value in item.values_of(_COMPARED_NAMES)])


def changed_fields(old: ContactItem | None, new: ContactItem | None) -> list[str]:
    """The API names (the item's attribute names) of the fields that differ; every set one for a creation."""
    if old is None or new is None:
        present = new if new is not None else old
        if present is None:
            return []
        return [api for (_, api), value in zip(_COMPARED, contact_state(present), strict=True) if value is not None]
    pairs = zip(_COMPARED, contact_state(old), contact_state(new), strict=True)
    return [api for (_, api), before, after in pairs if before != after]


def note_of(item: ContactItem | None) -> LastChange | None:
    """The `lastChange` the write left on the item; raises ValueError when it is malformed."""
    if item is None or item.last_change is None:
        return None
    return LastChange.model_validate(item.last_change)


@dataclass(frozen=True)
class ContactChange:
    event_id: str  # the stream record's eventID: unique per record, the same when a batch is replayed
    sequence_number: str  # order within the shard (one contact's changes always share a shard)
    committed_at: str  # ISO-8601 UTC, from the record's ApproximateCreationDateTime
    tenant_id: str
    old: ContactItem | None  # None when the item was created
    new: ContactItem | None  # None when the item was deleted (erase, or an email change moving the item)
    # The note of the write (new image's `lastChange`; for a removal the old image's).
    note: LastChange | None = None

    @property
    def kind(self) -> ChangeKind:
        if self.old is None:
            return "created"
        return "removed" if self.new is None else "updated"

    @property
    def erased(self) -> bool:
        """A removal that is a permanent delete (not an email change moving the item)."""
        return self.kind == "removed" and self.note is not None and self.note.erased

    @property
    def moved_from(self) -> ContactItem | None:
        """For the insert of an email change: the contact as it was stored at its old email."""
        if self.kind != "created" or self.note is None or self.note.previous is None:
            return None
        return ContactItem.from_raw_data(self.note.previous)


@dataclass(frozen=True)
class Refused:
    """A change a consumer cannot convert, whatever the retry (bad data, not an outage): the relay parks it."""

    change: ContactChange
    reason: str


def from_stream_record(record: dict[str, Any]) -> ContactChange:
    """A Lambda DynamoDB stream record (`event["Records"][i]`, NEW_AND_OLD_IMAGES) as a `ContactChange`.

    Raises (KeyError, ValueError, ...) on a record that is not a contact change; the relay parks it.
    """
    stream = record["dynamodb"]
    old_image = stream.get("OldImage")
    new_image = stream.get("NewImage")
    created = stream.get("ApproximateCreationDateTime")
    committed = datetime.fromtimestamp(float(created), UTC) if created is not None else datetime.now(UTC)
    old = ContactItem.from_raw_data(old_image) if old_image else None
    new = ContactItem.from_raw_data(new_image) if new_image else None
    if old is None and new is None:
        raise ValueError("a stream record without images (the table's stream must be NEW_AND_OLD_IMAGES)")
    return ContactChange(
        event_id=record["eventID"],
        sequence_number=stream["SequenceNumber"],
        committed_at=committed.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        tenant_id=stream["Keys"]["tenantId"]["S"],
        old=old,
        new=new,
        note=note_of(new if new is not None else old),
    )
