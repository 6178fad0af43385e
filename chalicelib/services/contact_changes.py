"""One committed change of a contact as the contacts table's stream reports it: what every stream consumer takes.

The relay (`app.relay_contact_changes`, an `on_dynamodb_record` handler) turns each
stream record into a `ContactChange` and hands the batch, in stream order, to each
consumer's `apply_changes(changes)`: the search index, the counters, the changes
feed and the domain events. A consumer must be idempotent under a replayed batch
(the stream redelivers a batch whose handler raised) and raise on a transient
failure so that the stream retries; see docs/webhooks.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from chalicelib.repository.models import ContactItem

ChangeKind = Literal["created", "updated", "removed"]


@dataclass(frozen=True)
class ContactChange:
    event_id: str  # the stream record's eventID: unique per record, the same when a batch is replayed
    sequence_number: str  # order within the shard (one contact's changes always share a shard)
    committed_at: str  # ISO-8601 UTC, from the record's ApproximateCreationDateTime
    tenant_id: str
    old: ContactItem | None  # None when the item was created
    new: ContactItem | None  # None when the item was deleted (erase, or an email change moving the item)

    @property
    def kind(self) -> ChangeKind:
        if self.old is None:
            return "created"
        return "removed" if self.new is None else "updated"


def from_stream_record(record: dict[str, Any]) -> ContactChange:
    """A Lambda DynamoDB stream record (`event["Records"][i]`, NEW_AND_OLD_IMAGES) as a `ContactChange`."""
    stream = record["dynamodb"]
    old_image = stream.get("OldImage")
    new_image = stream.get("NewImage")
    created = stream.get("ApproximateCreationDateTime")
    committed = datetime.fromtimestamp(float(created), UTC) if created is not None else datetime.now(UTC)
    return ContactChange(
        event_id=record["eventID"],
        sequence_number=stream["SequenceNumber"],
        committed_at=committed.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        tenant_id=stream["Keys"]["tenantId"]["S"],
        old=ContactItem.from_raw_data(old_image) if old_image else None,
        new=ContactItem.from_raw_data(new_image) if new_image else None,
    )
