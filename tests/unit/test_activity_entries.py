"""Pure logic of activity entries: ids that sort in creation order, details derived from events."""

from __future__ import annotations

from chalicelib.services import activity, events
from tests.unit.factories import change, item, noted


def test_a_created_entry_carries_its_source_and_initial_tags():
    new = noted(item(tags={"x"}), "contact.created", events.SCHEDULE_ACTOR, eventKey="k")
    [event] = events.events_for_change(change(None, new))
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
    before = noted(item(tags={"a", "b"}, group_ids={"g1"}, company="Old"), "contact.created", events.SCHEDULE_ACTOR)
    after = noted(item(tags={"b", "c"}, group_ids={"g2"}, company="New"), "contact.updated", events.SCHEDULE_ACTOR)
    [event] = events.events_for_change(change(before, after))
    details = activity.entry_for_event(event).details
    assert details["changedFields"] == ["company", "groupIds", "tags"]
    assert details["changes"]["company"] == {"old": "Old", "new": "New"}
    assert (details["tagsAdded"], details["tagsRemoved"]) == (["c"], ["a"])
    assert (details["groupsJoined"], details["groupsLeft"]) == (["g2"], ["g1"])
    assert activity.entry_for_event(event).source == "schedule"
