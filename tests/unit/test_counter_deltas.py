"""Counter deltas from stream images, and how they are packed into transactions (pure logic)."""

from __future__ import annotations

from chalicelib.repository import counters as repo
from chalicelib.repository.models import ContactItem
from chalicelib.services import counters
from chalicelib.services.contact_changes import ContactChange


def contact(email: str = "a@example.com", **fields: object) -> ContactItem:
    base: dict[str, object] = {"contact_id": "c1", "created_at": "t", "updated_at": "t", "subscription": "confirmed"}
    return ContactItem("tnt", email, **{**base, **fields})


def change(old: ContactItem | None, new: ContactItem | None, event_id: str = "e1") -> ContactChange:
    return ContactChange(event_id, "1", "2026-01-01T00:00:00.000Z", "tnt", old, new)


def test_a_create_counts_everywhere_the_contact_belongs() -> None:
    [delta] = counters.deltas_of(change(None, contact(status="lead", tags={"a", "b"}, group_ids={"g"})))
    assert delta.counts == {
        "all": 1,
        "status#lead": 1,
        "subscription#confirmed": 1,
        "tag#a": 1,
        "tag#b": 1,
        "group#g": 1,
    }


def test_archive_subtracts_and_an_email_move_nets_out() -> None:
    live = contact(tags={"a"})
    archived = contact(tags={"a"}, deleted_at="t")
    [delta] = counters.deltas_of(change(live, archived))
    assert delta.counts == {"all": -1, "subscription#confirmed": -1, "tag#a": -1}
    moved = counters.deltas_of(change(live, None, "e1")) + counters.deltas_of(
        change(None, contact("b@x.com", tags={"a"}), "e2")
    )
    summed: dict[str, int] = {}
    for part in moved:
        for name, value in part.counts.items():
            summed[name] = summed.get(name, 0) + value
    assert set(summed.values()) == {0}
    assert counters.deltas_of(change(archived, archived)) == []  # nothing counted, nothing written


def test_a_change_with_many_counters_is_split_into_parts_with_their_own_markers() -> None:
    parts = counters.deltas_of(change(None, contact(tags={f"t{i}" for i in range(100)})))
    assert all(len(part.counts) <= repo.MAX_COUNTERS_PER_DELTA for part in parts)
    assert [part.marker for part in parts] == [f"e1#{n}" for n in range(len(parts))]
    assert sum(len(part.counts) for part in parts) == 102


def test_packs_respect_the_transaction_size_and_share_counters() -> None:
    deltas = [repo.Delta(f"e{i}", "tnt", {"all": 1, "tag#x": 1}) for i in range(60)]
    packs = repo._pack(deltas)
    assert all(len(pack) + 2 <= repo.TRANSACTION_ITEMS for pack in packs)
    assert sum(len(pack) for pack in packs) == 60 and len(packs) == 3


def test_which_filters_a_single_counter_answers() -> None:
    assert counters.counter_for() == "all"
    assert counters.counter_for(status="lead") == "status#lead"
    assert counters.counter_for(tags=["a", "a"]) == "tag#a"
    assert counters.counter_for(group_ids=["g"]) == "group#g"
    assert counters.counter_for(subscription="confirmed") == "subscription#confirmed"
    assert counters.counter_for(status="lead", tags=["a"]) is None
    assert counters.counter_for(tags=["a", "b"]) is None
    assert counters.counter_for(text="ann") is None
    assert counters.counter_for(custom_fields={"plan": "x"}) is None
