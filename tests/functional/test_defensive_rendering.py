"""One stored contact that cannot be rendered (written before today's limits, or by a bug) never takes a
tenant's listing down, and never costs the other contacts of a batch their events."""

from __future__ import annotations

import logging
import uuid

import pytest

from chalicelib.clock import now_iso
from chalicelib.repository import contacts as contacts_repo
from chalicelib.repository.models import ContactItem
from tests.functional.conftest import Caller
from tests.functional.consumer import consume_events


def plant_unrenderable(caller: Caller, email: str, **fields: object) -> str:
    """Store, straight through the repository, a contact whose customFields nest 300 levels (more than
    the API can render) — as the API itself stored them before the depth limit existed."""
    value: object = 1
    for _ in range(300):
        value = {"k": value}
    now = now_iso()
    item = ContactItem(
        caller.tenant_id,
        email,
        contact_id=str(uuid.uuid4()),
        source="api",
        subscription="confirmed",
        custom_fields={"deep": value},
        created_at=now,
        updated_at=now,
        **fields,
    )
    contacts_repo.create(item)
    return item.contact_id


def test_the_listing_and_search_answer_and_report_the_contact_they_cannot_show(
    acme: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    good = acme.post("/api/contacts", {"email": "good@example.com", "tags": ["vip"]}).json_body
    broken = plant_unrenderable(acme, "broken@example.com", tags={"vip"})
    with caplog.at_level(logging.ERROR):
        listing = acme.get("/api/contacts")
    assert listing.status_code == 200
    assert [c["id"] for c in listing.json_body["data"]] == [good["id"]]
    assert listing.json_body["unrenderableIds"] == [broken]
    assert broken in caplog.text

    search = acme.post("/api/contacts/search", {"filters": {"tags": ["vip"]}})
    assert search.status_code == 200
    assert [c["id"] for c in search.json_body["data"]] == [good["id"]]
    assert search.json_body["unrenderableIds"] == [broken]
    by_tag = acme.get("/api/contacts?tag=vip").json_body
    assert [c["id"] for c in by_tag["data"]] == [good["id"]] and by_tag["unrenderableIds"] == [broken]


def test_a_listing_without_broken_contacts_has_no_extra_field(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "plain@example.com"})
    assert set(acme.get("/api/contacts").json_body) == {"data", "nextCursor"}


def test_the_broken_contact_can_be_repaired_by_clearing_its_custom_fields(acme: Caller) -> None:
    broken = plant_unrenderable(acme, "fixme@example.com")
    repaired = acme.patch(f"/api/contacts/{broken}", {"customFields": None})
    assert repaired.status_code == 200, repaired.body
    assert repaired.json_body["customFields"] == {}
    assert [c["id"] for c in acme.get("/api/contacts").json_body["data"]] == [broken]


def test_a_bad_row_never_costs_the_good_row_its_events(acme: Caller) -> None:
    value: object = 1
    for _ in range(20):
        value = {"k": value}
    rows = [{"email": "bad@example.com", "customFields": value}, {"email": "fine@example.com", "firstName": "Fine"}]
    answer = acme.post("/api/contacts/bulk", {"contacts": rows, "returnResults": True}).json_body
    assert (answer["created"], [e["index"] for e in answer["errors"]]) == (1, [0])
    fine = answer["results"][1]["id"]
    consume_events()
    timeline = acme.get(f"/api/contacts/{fine}/activity").json_body["data"]
    assert [entry["type"] for entry in timeline] == ["contact.created"]


def test_a_broken_stored_contact_never_costs_the_others_in_its_batch_their_events(acme: Caller) -> None:
    good = acme.post("/api/contacts", {"email": "good@example.com"}).json_body
    plant_unrenderable(acme, "broken@example.com")
    tagged = acme.patch(
        "/api/contacts/bulk/tags", {"emails": ["good@example.com", "broken@example.com"], "addTags": ["spring"]}
    )
    assert tagged.status_code == 200 and tagged.json_body["tagsAdded"] == 2
    consume_events()
    timeline = acme.get(f"/api/contacts/{good['id']}/activity").json_body["data"]
    assert [entry["type"] for entry in timeline] == ["contact.updated", "contact.created"]
    assert acme.get(f"/api/contacts/{good['id']}").json_body["tags"] == ["spring"]
