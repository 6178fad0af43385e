import random
import string

from chalicelib.repository.queues import MAX_BATCH_MESSAGES, MAX_REQUEST_BYTES, OutgoingMessage, plan_batches
from chalicelib.schemas.events import Event, EventBatchMessage, EventData, SystemActor
from chalicelib.services import events


def contact(i, custom=None):
    return {
        "id": f"id-{i}",
        "email": f"user{i}@example.com",
        "subscription": "confirmed",
        "source": "bulk",
        "tags": ["newsletter", f"import:{i % 7}"],
        "groupIds": [],
        "customFields": custom or {"plan": "starter"},
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }


def make_events(n, custom=None):
    actor = SystemActor(type="schedule")
    return [
        Event(
            id=f"evt_{i:016x}",
            type="contact.created",
            createdAt="2026-01-01T00:00:00.000Z",
            tenantId="tnt_1",
            data=EventData.model_validate({"contact": contact(i, custom), "actor": actor}),
        )
        for i in range(n)
    ]


def test_many_events_pack_into_few_messages_each_under_256_kb_and_round_trip():
    sent = make_events(10_000)
    bodies = events.pack(sent)
    assert all(len(body.encode()) <= events.MAX_MESSAGE_BYTES for body in bodies)
    assert len(bodies) <= 10_000 // events.MAX_EVENTS_PER_MESSAGE + 1
    decoded = [events.decode_message(body) for body in bodies]
    assert all(isinstance(m, EventBatchMessage) for m in decoded)
    assert [e.id for m in decoded for e in m.events] == [e.id for e in sent]


def test_incompressible_events_are_split_until_each_message_fits():
    rng = random.Random(7)
    noise = {"blob": "".join(rng.choices(string.ascii_letters + string.digits, k=7000))}
    bodies = events.pack(make_events(300, noise))
    assert len(bodies) > 1
    assert all(len(body.encode()) <= events.MAX_MESSAGE_BYTES for body in bodies)
    assert sum(len(events.decode_message(b).events) for b in bodies) == 300  # type: ignore[union-attr]


def test_batches_hold_at_most_10_messages_and_256_kib():
    small = [OutgoingMessage("x" * 100)] * 25
    assert [len(b) for b in plan_batches(small)] == [10, 10, 5]
    big = [OutgoingMessage("y" * 100_000)] * 5
    batches = plan_batches(big)
    assert all(sum(len(m.body) for m in b) <= MAX_REQUEST_BYTES for b in batches)
    assert all(len(b) <= MAX_BATCH_MESSAGES for b in batches)
    assert sum(len(b) for b in batches) == 5
