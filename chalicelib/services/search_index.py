"""The search index's stream consumer: keeps word postings and sort entries equal to the stored contacts.

The relay hands every batch of `ContactChange`s to `apply_changes`. For each contact item
(tenant, email) the batch touches, the index is made to match the item as it is stored *now*
(one consistent BatchGetItem per 100 items), not as the record says: so a replayed batch
writes the same thing again, and an out-of-date record (the item changed again since)
cannot bring old words back. Items derived from any image in the batch that the current
item no longer has are deleted; archived and erased contacts have no index items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from chalicelib.repository import bulk as bulk_repo
from chalicelib.repository import search_index as index
from chalicelib.repository.batch import Deadline
from chalicelib.repository.models import ContactItem
from chalicelib.services.contact_changes import ContactChange
from chalicelib.services.search_words import ContactText

Key = tuple[str, str]  # (tenant, email): the contacts-table item that owns index items


def indexed(contact: ContactItem | None) -> index.IndexedContact | None:
    """What the index holds for a stored contact item; None for none, or an archived one (left out of lists)."""
    if contact is None or contact.deleted_at is not None:
        return None
    text = ContactText(contact.email, contact.first_name, contact.last_name, contact.company)
    return index.IndexedContact(
        tenant_id=contact.tenant_id,
        email=contact.email,
        contact_id=contact.contact_id,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        tokens=frozenset(text.index_tokens()),
    )


def _items(contact: ContactItem | None) -> dict[index.ItemKey, dict[str, Any]]:
    spec = indexed(contact)
    return spec.items() if spec is not None else {}


def apply_changes(changes: Sequence[ContactChange], deadline: Deadline | None = None) -> None:
    """Bring the index up to date for every contact item these changes touched; idempotent.

    Raises on a failed write (BatchIncomplete, AWS errors), so that the stream retries the batch.
    """
    images: dict[Key, list[ContactItem]] = defaultdict(list)
    first_old: dict[Key, ContactItem | None] = {}
    for change in changes:
        image = change.old or change.new
        if image is None:
            continue
        key = (image.tenant_id, image.email)
        first_old.setdefault(key, change.old)
        images[key].extend(i for i in (change.old, change.new) if i is not None)
    if not images:
        return
    emails_by_tenant: dict[str, list[str]] = defaultdict(list)
    for tenant_id, email in images:
        emails_by_tenant[tenant_id].append(email)
    current: dict[Key, ContactItem] = {}
    for tenant_id, emails in emails_by_tenant.items():
        for email, contact in bulk_repo.load_contacts(tenant_id, emails, deadline or Deadline()).items():
            current[(tenant_id, email)] = contact
    puts: list[dict[str, Any]] = []
    deletes: list[index.ItemKey] = []
    for key, seen in images.items():
        wanted = _items(current.get(key))
        # What the index held before this batch when batches come in order: items it already
        # holds unchanged are not written again (a name change rewrites only its words).
        held = _items(first_old[key])
        stale = set().union(*(_items(image).keys() for image in seen)) - wanted.keys()
        deletes.extend(sorted(stale))
        puts.extend(item for item_key, item in wanted.items() if held.get(item_key) != item)
    index.write(puts, deletes, deadline)
