"""Pure logic of activity entries: ids that sort in creation order, details derived from events."""

from __future__ import annotations

from chalicelib.schemas.contacts import Contact
from chalicelib.services import activity, events


def _contact(**fields: object) -> Contact:
    base = {
        "id": "c1",
        "email": "a@example.com",
        "subscription": "unconfirmed",
        "source": "bulk",
        "tags": [],
        "groupIds": [],
        "customFields": {},
        "createdAt": "2026-05-14T00:00:00.000Z",
        "updatedAt": "2026-05-14T00:00:00.000Z",
    }
    return Contact.model_validate({**base, **fields})


def test_event_ids_made_one_after_another_sort_in_that_order():
    ids = [events.new_event_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 2000


def test_a_created_entry_carries_its_source_and_initial_tags():
    event = events.contact_event("contact.created", "t1", _contact(tags=["x"]), events.SCHEDULE_ACTOR, eventKey="k")
    entry = activity.entry_for_event(event)
    assert (entry.type, entry.source, entry.entry_id) == ("contact.created", "bulk", event.id)
    assert entry.pk == "t1#c1" and entry.sk == f"{event.createdAt}#{event.id}"
    assert entry.details == {
        "actor": {"type": "schedule"},
        "eventKey": "k",
        "source": "bulk",
        "email": "a@example.com",
        "tagsAdded": ["x"],
        "groupsJoined": [],
    }


def test_an_update_entry_lists_field_changes_and_tag_and_group_deltas():
    before = _contact(tags=["a", "b"], groupIds=["g1"], company="Old")
    after = _contact(tags=["b", "c"], groupIds=["g2"], company="New")
    event = events.contact_change_event("contact.updated", "t1", before, after, events.SCHEDULE_ACTOR)
    details = activity.entry_for_event(event).details
    assert details["changedFields"] == ["company", "groupIds", "tags"]
    assert details["changes"]["company"] == {"old": "Old", "new": "New"}
    assert (details["tagsAdded"], details["tagsRemoved"]) == (["c"], ["a"])
    assert (details["groupsJoined"], details["groupsLeft"]) == (["g2"], ["g1"])
    assert activity.entry_for_event(event).source == "schedule"
