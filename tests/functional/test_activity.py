"""Activity timelines: derived from events by the queue's consumer, listed newest first, erased with the contact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.services import events
from tests.functional.conftest import Caller, new_caller
from tests.functional.consumer import activity_items, consume_events
from tests.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def timeline(caller: Caller, contact_id: str, query: str = "") -> list[dict[str, Any]]:
    answer = caller.get(f"/api/contacts/{contact_id}/activity{query}")
    assert answer.status_code == 200, answer.json_body
    data: list[dict[str, Any]] = answer.json_body["data"]
    return data


def test_every_kind_of_change_leaves_an_entry_newest_first(acme):
    group = acme.post("/api/groups", {"name": "Newsletter"}).json_body
    contact = acme.post("/api/contacts", {"email": "ann@example.com", "tags": ["lead"]}).json_body
    cid = contact["id"]
    acme.patch(f"/api/contacts/{cid}", {"firstName": "Ann", "company": "Acme"})
    acme.post(f"/api/contacts/{cid}/tags", {"tags": ["vip"]})
    acme.delete(f"/api/contacts/{cid}/tags", {"tags": ["lead"]})
    acme.post(f"/api/contacts/{cid}/groups", {"groupIds": [group["id"]]})
    acme.delete(f"/api/contacts/{cid}/groups", {"groupIds": [group["id"]]})
    acme.delete(f"/api/contacts/{cid}")
    acme.post(f"/api/contacts/{cid}/restore")
    assert timeline(acme, cid) == []  # eventually consistent: nothing until the consumer ran
    consume_events()

    entries = timeline(acme, cid)
    assert [e["type"] for e in entries] == [
        "contact.restored",
        "contact.deleted",
        "contact.updated",
        "contact.updated",
        "contact.updated",
        "contact.updated",
        "contact.updated",
        "contact.created",
    ]
    assert [e["occurredAt"] for e in entries] == sorted((e["occurredAt"] for e in entries), reverse=True)
    assert set(entries[0]) == {"id", "type", "occurredAt", "source", "details"}
    restored, archived, left, joined, untagged, tagged, patched, created = entries
    assert created["source"] == "api"
    assert created["details"]["source"] == "api"
    assert created["details"]["tagsAdded"] == ["lead"]
    assert created["details"]["actor"]["type"] == "apiKey"
    assert patched["details"]["changedFields"] == ["company", "firstName"]
    assert patched["details"]["changes"]["firstName"] == {"old": None, "new": "Ann"}
    assert (tagged["details"]["tagsAdded"], tagged["details"]["tagsRemoved"]) == (["vip"], [])
    assert (untagged["details"]["tagsAdded"], untagged["details"]["tagsRemoved"]) == ([], ["lead"])
    assert joined["details"]["groupsJoined"] == [group["id"]]
    assert left["details"]["groupsLeft"] == [group["id"]]
    assert archived["details"]["changedFields"] == ["deletedAt"]
    assert restored["details"]["changes"]["deletedAt"]["new"] is None
    assert all(e["source"] == "api" for e in entries)


def test_subscribe_and_confirm_of_an_existing_contact_leave_entries(acme, client):
    from tests.functional.test_subscribe import confirmation_link, post_signup

    group = acme.post("/api/groups", {"name": "Insiders", "doubleOptIn": True}).json_body
    contact = acme.post("/api/contacts", {"email": "sub@example.com"}).json_body
    post_signup(client, {"group": group["id"], "email": "sub@example.com", "formType": "footer"})
    client.http.get(confirmation_link("sub@example.com"))
    consume_events()
    newest, middle, _ = timeline(acme, contact["id"])
    assert (newest["type"], newest["source"], newest["details"]["groupId"]) == (
        "contact.confirmed",
        "subscribe",
        group["id"],
    )
    assert (middle["type"], middle["details"]["formType"], middle["details"]["isNew"]) == (
        "contact.subscribed",
        "footer",
        False,
    )


def test_webhook_deliveries_about_a_contact_are_in_its_timeline(acme, receiver):
    receiver.status_for = lambda n: 503 if n == 1 else 204
    hook = acme.post("/api/webhooks", {"url": receiver.url(), "events": ["contact.created"]}).json_body
    contact = acme.post("/api/contacts", {"email": "hooked@example.com"}).json_body
    consume_events()
    delivered, failed, created = timeline(acme, contact["id"])
    assert created["type"] == "contact.created"
    assert (failed["type"], failed["source"]) == ("webhook.failed", "webhook")
    assert failed["details"]["statusCode"] == 503 and failed["details"]["willRetry"] is True
    assert failed["details"]["webhookId"] == hook["id"] and failed["details"]["eventId"] == created["id"]
    assert (delivered["type"], delivered["details"]["attempt"], delivered["details"]["statusCode"]) == (
        "webhook.delivered",
        2,
        204,
    )


def test_pages_with_skip_and_take_are_stable_and_cover_everything(acme):
    contact = acme.post("/api/contacts", {"email": "paged@example.com"}).json_body
    for i in range(11):
        acme.post(f"/api/contacts/{contact['id']}/tags", {"tags": [f"t{i}"]})
    consume_events()
    everything = timeline(acme, contact["id"])
    assert len(everything) == 12
    assert timeline(acme, contact["id"]) == everything  # the same order on every read
    pages = [timeline(acme, contact["id"], f"?skip={skip}&take=5") for skip in (0, 5, 10, 15)]
    assert [len(p) for p in pages] == [5, 5, 2, 0]
    assert [e for page in pages for e in page] == everything
    keys = [(e["occurredAt"], e["id"]) for e in everything]
    assert keys == sorted(keys, reverse=True)  # equal timestamps are ordered by the entry id
    answer = acme.get(f"/api/contacts/{contact['id']}/activity?skip=2&take=3").json_body
    assert (answer["skip"], answer["take"], answer["data"]) == (2, 3, everything[2:5])
    assert acme.get(f"/api/contacts/{contact['id']}/activity").json_body["take"] == 50


@pytest.mark.parametrize("query", ["?take=0", "?take=201", "?skip=-1", "?take=abc", "?skip=1.5"])
def test_bad_paging_is_a_422(acme, query):
    contact = acme.post("/api/contacts", {"email": "q@example.com"}).json_body
    answer = acme.get(f"/api/contacts/{contact['id']}/activity{query}")
    assert answer.status_code == 422
    assert answer.json_body["error"]["code"] == "validation_error"


def test_take_200_is_allowed(acme):
    contact = acme.post("/api/contacts", {"email": "q@example.com"}).json_body
    assert acme.get(f"/api/contacts/{contact['id']}/activity?take=200").status_code == 200


def test_another_tenants_contact_or_an_unknown_id_is_a_404(acme, globex, client):
    contact = acme.post("/api/contacts", {"email": "mine@example.com"}).json_body
    consume_events()
    for caller, path in ((globex, contact["id"]), (acme, "00000000-0000-0000-0000-000000000000")):
        answer = caller.get(f"/api/contacts/{path}/activity")
        assert answer.status_code == 404
        assert answer.json_body["error"]["code"] == "not_found"
    reader = acme.post("/api/keys", {"name": "writer", "scopes": ["contacts:write"]}).json_body
    no_read = Caller(client, acme.tenant_id, reader["key"])
    assert no_read.get(f"/api/contacts/{contact['id']}/activity").status_code == 403


def test_permanent_delete_erases_the_timeline_and_late_events_do_not_bring_it_back(acme):
    kept = acme.post("/api/contacts", {"email": "kept@example.com"}).json_body
    gone = acme.post("/api/contacts", {"email": "gone@example.com"}).json_body
    acme.patch(f"/api/contacts/{gone['id']}", {"company": "Gone"})
    consume_events()
    assert len(activity_items(gone["id"])) == 2
    acme.patch(f"/api/contacts/{gone['id']}", {"company": "Still in flight"})  # its event is not consumed yet
    assert acme.delete(f"/api/contacts/{gone['id']}?permanent=true").status_code == 200
    assert activity_items(gone["id"]) == []
    consume_events()  # the in-flight update and the erasure event itself
    assert activity_items(gone["id"]) == []
    assert acme.get(f"/api/contacts/{gone['id']}/activity").status_code == 404
    assert len(activity_items(kept["id"])) == 1


def test_an_erasure_between_write_and_check_still_wins(acme):
    """The consumer writes, then checks tombstones: an erasure that lands in between is undone by the check."""
    from chalicelib.repository import activity as repo
    from chalicelib.repository.aws import client as aws_client

    contact = acme.post("/api/contacts", {"email": "race@example.com"}).json_body
    erased_in_between: list[bool] = []

    def erase_once(model: Any, **_: Any) -> None:
        if model.name == "BatchGetItem" and not erased_in_between:
            erased_in_between.append(True)
            repo.erase(acme.tenant_id, contact["id"])

    events_ = aws_client("dynamodb").meta.events
    events_.register("before-call.dynamodb.BatchGetItem", erase_once, unique_id="erase-once")
    try:
        consume_events()
    finally:
        events_.unregister("before-call.dynamodb.BatchGetItem", erase_once, unique_id="erase-once")
    assert erased_in_between == [True]
    assert activity_items(contact["id"]) == []


def test_bulk_import_writes_one_entry_per_changed_row_and_none_for_unchanged(acme):
    acme.post("/api/contacts/bulk", {"contacts": [{"email": f"b{i}@example.com", "company": "A"} for i in range(30)]})
    consume_events()
    assert len(activity_items()) == 30
    rows = [{"email": f"b{i}@example.com", "company": "B" if i < 10 else "A"} for i in range(30)]
    rows += [{"email": "new1@example.com"}, {"email": "new2@example.com"}, {"email": "broken"}]
    answer = acme.post("/api/contacts/bulk", {"contacts": rows, "eventKeyForNewContacts": "fresh"}).json_body
    assert (answer["created"], answer["updated"], answer["unchanged"], len(answer["errors"])) == (2, 10, 20, 1)
    consume_events()
    items = activity_items()
    assert len(items) == 30 + 10 + 2
    changed = [i for i in items if i["type"]["S"] == "contact.updated"]
    assert len(changed) == 10
    created = [i for i in items if '"eventKey": "fresh"' in i["details"]["S"]]
    assert len(created) == 2 and all(i["source"]["S"] == "bulk" for i in created)


def test_redelivered_events_do_not_duplicate_entries(acme):
    contact = acme.post("/api/contacts", {"email": "twice@example.com"}).json_body
    from chalicelib.services import webhook_delivery
    from tests.functional.test_bulk_events import drain_events

    published = drain_events()
    body = events.pack(published)[0]
    webhook_delivery.deliver_webhooks([body, body])
    webhook_delivery.deliver_webhooks([body])
    assert len(activity_items(contact["id"])) == 1


def test_tenants_are_isolated_in_the_timeline(client, acme):
    other = new_caller(client, "Initech")
    mine = acme.post("/api/contacts", {"email": "same@example.com"}).json_body
    theirs = other.post("/api/contacts", {"email": "same@example.com"}).json_body
    consume_events()
    assert [e["id"] for e in timeline(acme, mine["id"])] != [e["id"] for e in timeline(other, theirs["id"])]
    assert len(timeline(acme, mine["id"])) == len(timeline(other, theirs["id"])) == 1
