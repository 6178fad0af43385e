"""Contact items, their id/externalId pointers and their tag/group memberships."""

from __future__ import annotations

from pynamodb.connection.base import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.repository.batch import WriteRequest, batch_write
from chalicelib.repository.conditional import save_if
from chalicelib.repository.models import ContactItem, ContactKeyItem, MembershipItem
from chalicelib.repository.tag_catalog import catalog_puts


class ContactConflict(Exception):
    """A uniqueness rule (email or externalId) or the optimistic lock refused the write."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "email" | "externalId" | "version"


def id_key(contact_id: str) -> str:
    return f"id#{contact_id}"


def external_key(external_id: str) -> str:
    return f"ext#{external_id}"


def tag_membership(tag: str) -> str:
    return f"tag#{tag}"


def group_membership(group_id: str) -> str:
    return f"group#{group_id}"


def membership_pk(tenant_id: str, membership: str) -> str:
    """`membership` is "tag#<tag>" or "group#<groupId>"."""
    return f"{tenant_id}#{membership}"


def get_by_email(tenant_id: str, email: str) -> ContactItem | None:
    try:
        return ContactItem.get(tenant_id, email, consistent_read=True)
    except ContactItem.DoesNotExist:
        return None


def _email_for(tenant_id: str, key: str) -> str | None:
    try:
        return ContactKeyItem.get(tenant_id, key, consistent_read=True).email
    except ContactKeyItem.DoesNotExist:
        return None


def get_by_id(tenant_id: str, contact_id: str) -> ContactItem | None:
    email = _email_for(tenant_id, id_key(contact_id))
    contact = get_by_email(tenant_id, email) if email else None
    return contact if contact is not None and contact.contact_id == contact_id else None


def _pointer(contact: ContactItem, key: str) -> ContactKeyItem:
    return ContactKeyItem(contact.tenant_id, key, email=contact.email, contact_id=contact.contact_id)


def _raise_conflict(error: TransactWriteError, reasons_by_index: list[str]) -> None:
    for index, reason in enumerate(error.cancellation_reasons or []):
        if reason is not None and reason.code == "ConditionalCheckFailed":
            raise ContactConflict(reasons_by_index[index]) from error
    raise error


def create(contact: ContactItem) -> None:
    """Write a new contact and its pointers at once; ContactConflict if email or externalId is taken."""
    reasons = ["email", "id"]
    with_ext = contact.external_id is not None
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(contact)  # the version attribute conditions this on "no item at this email"
            tx.save(_pointer(contact, id_key(contact.contact_id)), condition=ContactKeyItem.key.does_not_exist())
            if with_ext:
                reasons.append("externalId")
                ext = _pointer(contact, external_key(contact.external_id or ""))
                tx.save(ext, condition=ContactKeyItem.key.does_not_exist())
    except TransactWriteError as error:
        _raise_conflict(error, reasons)
    sync_memberships(None, contact)


def replace(old: ContactItem, new: ContactItem) -> None:
    """Store `new` in place of `old` (read earlier); moves the item when the email changed.

    Conditioned on the version read, so a concurrent writer makes this raise
    ContactConflict("version") instead of being overwritten silently.
    """
    reasons: list[str] = []
    try:
        with TransactWrite(connection=_connection()) as tx:
            if new.email != old.email:
                tx.delete(old)
                reasons.append("version")
                moved = _clone(new, without_version=True)  # conditions the put on "email free"
                tx.save(moved)
                reasons.append("email")
                tx.save(_pointer(new, id_key(new.contact_id)))
                reasons.append("id")
            else:
                tx.save(new)
                reasons.append("version")
            if old.external_id and old.external_id != new.external_id:
                tx.delete(ContactKeyItem(old.tenant_id, external_key(old.external_id)))
                reasons.append("externalId")
            if new.external_id and (new.external_id != old.external_id or new.email != old.email):
                condition = None
                if new.external_id != old.external_id:
                    condition = ContactKeyItem.key.does_not_exist()
                tx.save(_pointer(new, external_key(new.external_id)), condition=condition)
                reasons.append("externalId")
    except TransactWriteError as error:
        _raise_conflict(error, reasons)
    if new.email != old.email:
        new.version = moved.version
    sync_memberships(old, new)


def save(contact: ContactItem) -> None:
    """Save a contact whose identity did not change (same email, same externalId)."""
    # The version attribute adds its own condition: a write that read an older version is refused.
    if not save_if(contact, None):
        raise ContactConflict("version")


def delete_permanently(contact: ContactItem) -> None:
    """Erase the contact, its pointers and its memberships."""
    with TransactWrite(connection=_connection()) as tx:
        tx.delete(contact)
        tx.delete(ContactKeyItem(contact.tenant_id, id_key(contact.contact_id)))
        if contact.external_id:
            tx.delete(ContactKeyItem(contact.tenant_id, external_key(contact.external_id)))
    sync_memberships(contact, None)


def sync_memberships(old: ContactItem | None, new: ContactItem | None) -> None:
    """Make the membership index (and the tag catalog) follow a contact's tags, groups and email."""
    changes = membership_changes(old, new)
    batch_write(catalog_puts(changes) + changes)


def membership_changes(old: ContactItem | None, new: ContactItem | None) -> list[WriteRequest]:
    table = MembershipItem.Meta.table_name
    before = {(membership_pk(old.tenant_id, m), old.email) for m in old.membership_keys()} if old else set()
    after = {(membership_pk(new.tenant_id, m), new.email) for m in new.membership_keys()} if new else set()
    changes: list[WriteRequest] = []
    for pk, email in sorted(before - after):
        changes.append((table, {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": email}}}}))
    for pk, email in sorted(after - before):
        assert new is not None
        item = {"pk": {"S": pk}, "sk": {"S": email}, "id": {"S": new.contact_id}}
        changes.append((table, {"PutRequest": {"Item": item}}))
    return changes


def _clone(contact: ContactItem, *, without_version: bool = False) -> ContactItem:
    raw = contact.serialize()
    if without_version:
        raw.pop("version", None)
    return ContactItem.from_raw_data(raw)


_CONNECTION: Connection | None = None


def _connection() -> Connection:
    global _CONNECTION
    if _CONNECTION is None:
        _CONNECTION = Connection(region=ContactItem.Meta.region)
    return _CONNECTION
