"""What docs/bulk.md promises when a single-contact write races a bulk upsert on the same contact.

The race is staged with botocore event hooks: the other write runs at the exact
moment one request is about to send its write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.repository.models import ContactItem
from chalicelib.schemas.bulk import BulkUpsertBody
from chalicelib.schemas.contacts import ContactCreate, ContactPatch
from chalicelib.services import bulk, contacts
from chalicelib.services.auth import Principal
from tests.functional.conftest import Caller
from tests.functional.dynamo import counting, hooked


def principal(caller: Caller) -> Principal:
    return Principal(caller.tenant_id, "key_test", frozenset({"contacts:write"}))


@contextmanager
def once_before(events: Any, event: str, action: Any) -> Iterator[list[bool]]:
    """Run `action` the first time `event` fires on these client events."""
    fired: list[bool] = []

    def handler(**_: Any) -> None:
        if not fired:
            fired.append(True)
            action()

    # PynamoDB has its own botocore client, so `hooked` (the repository's client) does not reach it.
    events.register(event, handler, unique_id="race")
    try:
        yield fired
    finally:
        events.unregister(event, handler, unique_id="race")


def test_a_patch_that_read_before_a_bulk_write_retries_on_top_of_it(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "a@example.com", "firstName": "Old"}).json_body
    body = BulkUpsertBody(contacts=[{"email": "a@example.com", "company": "FromBulk"}])
    pynamo_events = ContactItem._get_connection().connection.client.meta.events
    # The PATCH has read the contact; just before it writes, the bulk upsert lands.
    with once_before(
        pynamo_events, "before-call.dynamodb.PutItem", lambda: bulk.bulk_upsert(principal(acme), body)
    ) as fired:
        patched = acme.patch(f"/api/contacts/{contact['id']}", {"firstName": "FromPatch"})
    assert fired
    assert patched.status_code == 200
    stored = acme.get(f"/api/contacts/{contact['id']}").json_body
    assert (stored["firstName"], stored["company"]) == ("FromPatch", "FromBulk")


def test_a_bulk_write_wins_over_a_patch_that_landed_after_the_bulk_read(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "a@example.com", "firstName": "Old"}).json_body

    def patch() -> None:
        contacts.update_contact(principal(acme), contact["id"], ContactPatch(firstName="FromPatch", phone="555"))

    body = {"contacts": [{"email": "a@example.com", "company": "FromBulk"}]}
    with hooked("before-call.dynamodb.BatchWriteItem", _once(patch)):
        answer = acme.post("/api/contacts/bulk", body).json_body
    assert answer["updated"] == 1
    stored = acme.get(f"/api/contacts/{contact['id']}").json_body
    # Last writer wins for the whole contact: the bulk stored what it read plus its row.
    assert (stored["firstName"], stored["phone"], stored["company"]) == ("Old", None, "FromBulk")
    # The version moved on, so later single-contact writes go through normally.
    assert acme.patch(f"/api/contacts/{contact['id']}", {"phone": "556"}).json_body["phone"] == "556"


def test_a_signup_that_creates_the_contact_during_a_bulk_create_is_replaced(acme: Caller) -> None:
    created: list[str] = []

    def signup() -> None:
        created.append(
            contacts.create_contact(principal(acme), ContactCreate(email="new@example.com", tags=["web"])).id
        )

    body = {"contacts": [{"email": "new@example.com", "firstName": "Bulk"}], "returnResults": True}
    with hooked("before-call.dynamodb.BatchWriteItem", _once(signup)):
        answer = acme.post("/api/contacts/bulk", body).json_body
    assert answer["created"] == 1
    bulk_id = answer["results"][0]["id"]
    assert created and created[0] != bulk_id
    assert acme.get(f"/api/contacts/{bulk_id}").json_body["firstName"] == "Bulk"
    assert acme.get(f"/api/contacts/{created[0]}").status_code == 404
    assert [c["email"] for c in acme.get("/api/contacts").json_body["data"]] == ["new@example.com"]
    assert acme.get("/api/contacts?tag=web").json_body["data"] == []  # the stale membership is filtered out


def test_a_signup_after_the_bulk_write_sees_the_contact(acme: Caller) -> None:
    acme.post("/api/contacts/bulk", {"contacts": [{"email": "new@example.com"}]})
    assert acme.post("/api/contacts", {"email": "new@example.com"}).status_code == 409


def _once(action: Any) -> Any:
    done: list[bool] = []

    def handler(**_: Any) -> None:
        if not done:
            done.append(True)
            action()

    return handler


def test_of_two_bulk_requests_creating_one_email_exactly_one_creates_it(acme: Caller) -> None:
    """The other one read the email as free, then found the tenant's create lease moved on: it reads
    again and updates the winner's contact instead of replacing it (docs/bulk.md)."""
    others: list[Any] = []

    def other() -> None:
        body = BulkUpsertBody(contacts=[{"email": "new@example.com", "firstName": "First"}], returnResults=True)
        others.append(bulk.bulk_upsert(principal(acme), body))

    body = {"contacts": [{"email": "new@example.com", "company": "Second"}], "returnResults": True}
    with hooked("before-call.dynamodb.UpdateItem", _once(other)):
        answer = acme.post("/api/contacts/bulk", body).json_body
    winner = others[0].results[0]
    assert (others[0].created, winner.action) == (1, "created")
    assert (answer["created"], answer["updated"]) == (0, 1)
    assert answer["results"][0]["id"] == winner.id
    stored = acme.get(f"/api/contacts/{winner.id}").json_body
    assert (stored["firstName"], stored["company"]) == ("First", "Second")  # both rows applied
    assert len(acme.get("/api/contacts").json_body["data"]) == 1


def test_bulk_requests_that_only_update_never_wait_for_the_create_lease(acme: Caller) -> None:
    acme.post("/api/contacts/bulk", {"contacts": [{"email": "a@example.com"}]})
    with counting() as log:
        answer = acme.post("/api/contacts/bulk", {"contacts": [{"email": "a@example.com", "company": "X"}]}).json_body
    assert answer["updated"] == 1
    assert log.calls["UpdateItem"] == 0
