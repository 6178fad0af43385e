"""The one "what changed" rule and the events the relay derives from each committed change."""

from __future__ import annotations

import pytest

from chalicelib.schemas.events import ApiKeyActor
from chalicelib.services import events
from tests.unit.factories import T0, change, item, noted

KEY = ApiKeyActor(apiKeyId="key_1")


def test_an_insert_is_contact_created_with_an_id_derived_from_the_stream_record():
    new = noted(item(first_name="Ann"), "contact.created", KEY, origin="bulk", eventKey="newContact")
    [created] = events.events_for_change(change(None, new, event_id="rec-1", sequence=7))
    assert created.type == "contact.created" and created.createdAt == T0
    data = created.data.model_dump(mode="json")
    assert data["actor"] == {"type": "apiKey", "apiKeyId": "key_1"}
    assert (data["origin"], data["eventKey"], data["contact"]["firstName"]) == ("bulk", "newContact", "Ann")
    # The same record relayed again (a retried batch) makes the very same event.
    [again] = events.events_for_change(change(None, new, event_id="rec-1", sequence=7))
    assert again.id == created.id and again.model_dump() == created.model_dump()
    [other] = events.events_for_change(change(None, new, event_id="rec-2", sequence=8))
    assert other.id != created.id


def test_a_signup_that_creates_the_contact_is_created_then_subscribed():
    new = noted(item(), "contact.subscribed", events.SUBSCRIBE_ACTOR, groupId="grp_1", formType="footer")
    created, subscribed = events.events_for_change(change(None, new))
    assert (created.type, subscribed.type) == ("contact.created", "contact.subscribed")
    extra = subscribed.data.model_extra or {}
    assert (extra["isNew"], extra["groupId"], extra["formType"]) == (True, "grp_1", "footer")
    assert created.id < subscribed.id  # the timeline shows them in this order


def test_an_update_reports_the_changed_fields_with_old_and_new_values():
    old = noted(item(company="Old", tags={"a", "b"}), "contact.created", KEY)
    new = noted(item(company="New", tags={"b", "c"}, updated_at="later"), "contact.updated", KEY)
    [updated] = events.events_for_change(change(old, new))
    extra = updated.data.model_extra or {}
    assert updated.type == "contact.updated"
    assert extra["changedFields"] == ["company", "tags"]
    assert extra["changes"]["tags"] == {"old": ["a", "b"], "new": ["b", "c"]}


def test_a_write_that_changed_no_field_makes_no_event():
    old = noted(item(), "contact.created", KEY)
    new = noted(item(updated_at="later"), "contact.updated", KEY)
    new.version = 9
    assert events.events_for_change(change(old, new)) == []


def test_an_email_change_is_one_update_and_the_removal_at_the_old_email_is_no_event():
    old = noted(item(email="old@example.com", first_name="Ann"), "contact.created", KEY)
    moved = noted(item(email="new@example.com", first_name="Ann"), "contact.updated", KEY)
    previous = old.serialize()
    previous.pop("lastChange")
    moved.last_change = {**(moved.last_change or {}), "previous": previous}
    [updated] = events.events_for_change(change(None, moved, sequence=2))
    assert updated.type == "contact.updated"
    assert (updated.data.model_extra or {})["changes"] == {
        "email": {"old": "old@example.com", "new": "new@example.com"}
    }
    assert events.events_for_change(change(old, None, sequence=1)) == []


def test_an_erase_is_a_permanent_deletion():
    gone = noted(item(), "contact.deleted", KEY, erased=True)
    [deleted] = events.events_for_change(change(gone, None))
    assert deleted.type == "contact.deleted" and (deleted.data.model_extra or {})["permanent"] is True
    assert deleted.data.contact.id == "c1"


def test_changes_of_one_millisecond_sort_in_commit_order():
    new = noted(item(), "contact.created", KEY)
    ids = [events.event_id_for(change(None, new, sequence=seq, event_id=f"r{seq}"), 0) for seq in (9, 10, 11, 200)]
    assert ids == sorted(ids) and len(set(ids)) == 4


def test_a_contact_written_without_its_note_cannot_be_converted():
    with pytest.raises(ValueError):
        events.events_for_change(change(None, item()))
