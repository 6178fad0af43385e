"""The changes feed's entries (one table, a partition per tenant in position order) and the erase check."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from chalicelib.repository.batch import batch_get, batch_write
from chalicelib.repository.contacts import id_key
from chalicelib.repository.models import ChangeEntryItem, ContactKeyItem


def put_entries(entries: Sequence[ChangeEntryItem]) -> None:
    """Write entries, 25 a call, retrying what DynamoDB hands back (repository/batch.py)."""
    table = ChangeEntryItem.Meta.table_name
    batch_write([(table, {"PutRequest": {"Item": entry.serialize()}}) for entry in entries])


def read_entries(tenant_id: str, after: str, before: str, page_size: int) -> Iterator[ChangeEntryItem]:
    """A tenant's entries with `after` < position < `before`, in position order (strongly consistent)."""
    start = {"tenantId": {"S": tenant_id}, "position": {"S": after}}
    yield from ChangeEntryItem.query(
        tenant_id,
        ChangeEntryItem.position < before,
        last_evaluated_key=start,
        page_size=page_size,
        consistent_read=True,
    )


def existing_contact_ids(contacts: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (tenant, contact id) pairs still have a contact: their `id#` pointer exists (one BatchGetItem / 100)."""
    table = ContactKeyItem.Meta.table_name
    keys = [(table, {"tenantId": {"S": tenant}, "key": {"S": id_key(contact_id)}}) for tenant, contact_id in contacts]
    return {(raw["tenantId"]["S"], raw["id"]["S"]) for _, raw in batch_get(keys)}
