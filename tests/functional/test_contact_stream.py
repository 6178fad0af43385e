"""The contacts table streams every committed change with both images, in commit order per contact."""

from __future__ import annotations

from tests.functional.conftest import Caller
from tests.functional.stream import ContactStream


def test_create_update_and_erase_reach_the_stream_with_both_images(acme: Caller) -> None:
    stream = ContactStream()
    created = acme.post("/api/contacts", {"email": "Ann@Example.com", "firstName": "Ann"}).json_body
    acme.patch(f"/api/contacts/{created['id']}", {"firstName": "Anna"})
    acme.delete(f"/api/contacts/{created['id']}?permanent=true")

    changes = [c for c in stream.changes() if c.tenant_id == acme.tenant_id]

    # An erase first marks the item (its note says "erased"; no field changes), then deletes it.
    assert [c.kind for c in changes] == ["created", "updated", "updated", "removed"]
    assert changes[3].erased and not changes[2].erased
    assert changes[0].new is not None and changes[0].new.email == "ann@example.com"
    assert changes[1].old is not None and changes[1].old.first_name == "Ann"
    assert changes[1].new is not None and changes[1].new.first_name == "Anna"
    assert changes[3].old is not None and changes[3].old.contact_id == created["id"]
    assert len({c.event_id for c in changes}) == 4
    assert all(c.committed_at.endswith("Z") for c in changes)
    assert stream.changes() == []


def test_the_stream_keeps_flowing_after_a_cancelled_transaction(acme: Caller) -> None:
    # moto restores a deep copy of the table when a transaction is cancelled (here: a 409 on a taken
    # email), which swaps the stream's shard object; the reader must not be left on the old one.
    stream = ContactStream()
    acme.post("/api/contacts", {"email": "ann@example.com"})
    assert len(stream.changes()) == 1
    assert acme.post("/api/contacts", {"email": "ann@example.com"}).status_code == 409
    acme.post("/api/contacts", {"email": "bob@example.com"})
    assert [c.new.email for c in stream.changes() if c.new is not None] == ["bob@example.com"]
