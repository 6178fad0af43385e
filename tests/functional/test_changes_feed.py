"""GET /api/contacts/changes: incremental sync that never misses a change, deletes included."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.services import changes_feed, cursors
from chalicelib.settings import settings
from tests.functional.conftest import Caller
from tests.functional.dynamo import hooked, item_count
from tests.functional.feed import FakeClock, FeedClient
from tests.functional.stream import RelayPump


@pytest.fixture
def clock(aws: None) -> Iterator[FakeClock]:
    with FakeClock().installed() as fake:
        yield fake


def changes(caller: Caller, query: str = "") -> Any:
    return caller.get(f"/api/contacts/changes{query}")


def test_feed_reports_each_kind_of_change_in_commit_order(acme: Caller, relay: RelayPump, clock: FakeClock) -> None:
    feed = FeedClient(acme)
    seen: list[dict[str, Any]] = []

    def sync() -> None:
        relay.pump()
        clock.settle()
        seen.extend(feed.drain())

    ann = acme.post("/api/contacts", {"email": "ann@example.com", "externalId": "SF-1"}).json_body
    sync()
    bob = acme.post("/api/contacts", {"email": "bob@example.com"}).json_body
    sync()
    acme.patch(f"/api/contacts/{ann['id']}", {"firstName": "Ann"})
    acme.delete(f"/api/contacts/{bob['id']}")
    sync()
    acme.post(f"/api/contacts/{bob['id']}/restore")
    acme.delete(f"/api/contacts/{ann['id']}?permanent=true")
    sync()

    assert [(e["id"], e["change"]) for e in seen] == [
        (ann["id"], "upserted"),
        (bob["id"], "upserted"),
        *sorted([(ann["id"], "upserted"), (bob["id"], "archived")]),  # one stream batch: by changedAt, then id
        *sorted([(bob["id"], "upserted"), (ann["id"], "erased")]),
    ]
    assert [(e["changedAt"], e["id"]) for e in seen] == sorted((e["changedAt"], e["id"]) for e in seen)
    erased = next(e for e in seen if e["change"] == "erased")
    assert erased == {
        "contact": None,
        "id": ann["id"],
        "externalId": "SF-1",
        "change": "erased",
        "changedAt": erased["changedAt"],
    }
    archived = next(e for e in seen if e["change"] == "archived")
    assert archived["contact"]["deletedAt"] is not None and archived["contact"]["id"] == bob["id"]
    assert feed.contacts == {bob["id"]: acme.get(f"/api/contacts/{bob['id']}").json_body}
    assert feed.erased == {ann["id"]}


def test_an_email_change_is_an_upsert_under_the_same_id_not_an_erase(
    acme: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    ann = acme.post("/api/contacts", {"email": "ann@example.com"}).json_body
    relay.pump()
    feed = FeedClient(acme)
    clock.settle()
    feed.drain()
    acme.patch(f"/api/contacts/{ann['id']}", {"email": "anna@example.com"})
    relay.pump()
    clock.settle()
    seen = feed.drain()
    assert [(e["id"], e["change"], e["contact"]["email"]) for e in seen] == [
        (ann["id"], "upserted", "anna@example.com")
    ]


def test_a_contact_appears_once_per_page_with_its_latest_state(
    acme: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    ann = acme.post("/api/contacts", {"email": "ann@example.com"}).json_body
    relay.pump()
    for n in range(5):
        acme.patch(f"/api/contacts/{ann['id']}", {"firstName": f"Ann {n}"})
        relay.pump()
    acme.post("/api/contacts", {"email": "bob@example.com"})
    relay.pump()
    clock.settle()
    page = changes(acme).json_body
    assert [(e["contact"]["email"], e["contact"]["firstName"]) for e in page["data"]] == [
        ("ann@example.com", "Ann 4"),
        ("bob@example.com", None),
    ]


def test_pages_follow_the_limit_and_the_walk_misses_nothing(acme: Caller, relay: RelayPump, clock: FakeClock) -> None:
    rows = [{"email": f"c{i:02}@example.com"} for i in range(25)]
    acme.post("/api/contacts/bulk", {"contacts": rows})
    relay.pump()
    clock.settle()
    feed = FeedClient(acme, limit=7)
    seen = feed.drain()
    assert [len(page) for page in feed.pages] == [7, 7, 7, 4, 0]
    assert sorted(e["contact"]["email"] for e in seen) == [row["email"] for row in rows]


def test_the_cursor_is_returned_on_an_empty_page_and_polling_picks_up_later_changes(
    acme: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    empty = changes(acme).json_body
    assert empty["data"] == [] and empty["nextCursor"]
    feed = FeedClient(acme, cursor=empty["nextCursor"])
    assert feed.poll() == []
    acme.post("/api/contacts", {"email": "ann@example.com"})
    relay.pump()
    assert feed.poll() == []  # not settled yet: the entry is still inside the settle window
    clock.settle()
    assert [e["contact"]["email"] for e in feed.poll()] == ["ann@example.com"]
    assert feed.poll() == []


def test_updated_since_starts_the_feed_at_that_time(acme: Caller, relay: RelayPump, clock: FakeClock) -> None:
    acme.post("/api/contacts", {"email": "early@example.com"})
    relay.pump()
    clock.advance(60)
    start = changes_feed.iso(clock())
    clock.advance(60)
    acme.post("/api/contacts", {"email": "late@example.com"})
    relay.pump()
    clock.settle()
    page = changes(acme, f"?updatedSince={start}").json_body
    assert [e["contact"]["email"] for e in page["data"]] == ["late@example.com"]
    everything = changes(acme).json_body  # neither since nor updatedSince: the whole retained feed
    assert [e["contact"]["email"] for e in everything["data"]] == ["early@example.com", "late@example.com"]


def test_updated_since_in_the_future_or_garbled_is_422_and_older_than_30_days_is_410(
    acme: Caller, clock: FakeClock
) -> None:
    future = changes_feed.iso(clock.moment.replace(year=clock.moment.year + 1))
    for value in (future, "yesterday", "2026-13-01T00:00:00Z"):
        answer = changes(acme, f"?updatedSince={value}")
        assert answer.status_code == 422, value
        assert answer.json_body["error"]["details"][0]["field"] == "updatedSince"
    old = changes_feed.iso(clock.moment.replace(year=clock.moment.year - 1))
    answer = changes(acme, f"?updatedSince={old}")
    assert (answer.status_code, answer.json_body["error"]["code"]) == (410, "cursor_expired")


def _cursor(tenant_id: str, listing: str, position: str) -> str:
    return cursors.encode(tenant_id, listing, position)


def test_garbled_forged_and_foreign_cursors_are_400(
    acme: Caller, globex: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    acme.post("/api/contacts", {"email": "ann@example.com"})
    relay.pump()
    clock.settle()
    theirs = changes(globex).json_body["nextCursor"]
    mine = changes(acme).json_body["nextCursor"]
    position = json.loads(base64.urlsafe_b64decode(mine + "=" * (-len(mine) % 4)))["a"]
    future = changes_feed.iso(clock.moment.replace(year=clock.moment.year + 1))
    bad = [
        "not-a-cursor",
        "eyJ0IjoxfQ",  # {"t":1}
        theirs,
        _cursor(acme.tenant_id, "all", position),  # a contact listing's cursor
        _cursor(acme.tenant_id, "changes", "ann@example.com"),
        _cursor(acme.tenant_id, "changes", future),
    ]
    for cursor in bad:
        answer = changes(acme, f"?since={cursor}")
        assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "bad_request"), cursor
    listing = acme.get(f"/api/contacts?cursor={mine}")
    assert listing.status_code == 400  # and a feed cursor is no listing cursor either


def test_a_cursor_older_than_30_days_is_410(acme: Caller, relay: RelayPump, clock: FakeClock) -> None:
    cursor = changes(acme).json_body["nextCursor"]
    clock.advance(29 * 86400)
    assert changes(acme, f"?since={cursor}").status_code == 200
    clock.advance(2 * 86400)
    answer = changes(acme, f"?since={cursor}")
    assert (answer.status_code, answer.json_body["error"]["code"]) == (410, "cursor_expired")


def test_entries_expire_with_a_ttl_after_30_days(acme: Caller, relay: RelayPump, clock: FakeClock) -> None:
    acme.post("/api/contacts", {"email": "ann@example.com"})
    relay.pump()
    [entry] = changes_feed.repo.read_entries(acme.tenant_id, "0", "9", wanted=10)
    assert 30 * 86400 < entry.expires_at - clock.moment.timestamp() <= 31 * 86400


def test_the_feed_needs_the_read_scope_and_a_key(acme: Caller) -> None:
    key = acme.post("/api/keys", {"name": "hooks", "scopes": ["webhooks:manage"]}).json_body["key"]
    assert acme.request("GET", "/api/contacts/changes", headers={"X-Api-Key": key}).status_code == 403
    assert acme.client.http.get("/api/contacts/changes").status_code == 401
    assert changes(acme, "?limit=0").status_code == 422
    assert changes(acme, "?limit=101").status_code == 422


def test_an_entry_written_late_inside_the_settle_window_is_not_skipped(
    acme: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    feed = FeedClient(acme, cursor=changes(acme).json_body["nextCursor"])
    acme.post("/api/contacts", {"email": "ann@example.com"})
    polled: list[list[dict[str, Any]]] = []

    def slow_write(params: dict[str, Any], **_: Any) -> None:
        if settings.changes_table not in str(params.get("body", "")):
            return  # another consumer's batch (the search index)
        # The writer stamped its entry, then DynamoDB takes a while; a reader polls meanwhile.
        clock.advance(settings.feed_settle_seconds * 0.4)
        polled.append(feed.poll())

    with hooked("before-call.dynamodb.BatchWriteItem", slow_write):
        relay.pump()
    clock.settle()
    assert polled == [[]]
    assert [e["contact"]["email"] for e in feed.drain()] == ["ann@example.com"]


def test_a_write_slower_than_the_settle_window_is_written_again_where_readers_find_it(
    acme: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    feed = FeedClient(acme, cursor=changes(acme).json_body["nextCursor"])
    acme.post("/api/contacts", {"email": "ann@example.com"})
    polled: list[list[dict[str, Any]]] = []

    def very_slow_write(params: dict[str, Any], **_: Any) -> None:
        if settings.changes_table not in str(params.get("body", "")):
            return  # another consumer's batch (the search index)
        if not polled:  # the first attempt: the reader moves past the entry's stamp before it lands
            clock.advance(settings.feed_settle_seconds * 1.5)
            polled.append(feed.poll())

    with hooked("before-call.dynamodb.BatchWriteItem", very_slow_write):
        relay.pump()
    clock.settle()
    assert polled == [[]]
    assert [e["contact"]["email"] for e in feed.drain()] == ["ann@example.com"]
    assert item_count(settings.changes_table) == 2  # the late entry and its rewrite


def test_feeds_of_tenants_are_apart(acme: Caller, globex: Caller, relay: RelayPump, clock: FakeClock) -> None:
    acme.post("/api/contacts", {"email": "ann@example.com"})
    globex.post("/api/contacts", {"email": "gus@example.com"})
    relay.pump()
    clock.settle()
    assert [e["contact"]["email"] for e in FeedClient(acme).drain()] == ["ann@example.com"]
    assert [e["contact"]["email"] for e in FeedClient(globex).drain()] == ["gus@example.com"]


class Workload:
    """Random contact writes of every kind a tenant makes, on a small pool of emails so that they collide."""

    def __init__(self, caller: Caller, rng: random.Random, group_id: str) -> None:
        self.caller, self.rng, self.group_id = caller, rng, group_id
        self.ids: list[str] = []

    def _email(self) -> str:
        return f"p{self.rng.randrange(40)}@example.com"

    def _some_id(self) -> str | None:
        return self.rng.choice(self.ids) if self.ids else None

    def step(self) -> None:
        rng, caller = self.rng, self.caller
        op = rng.choice(["create", "bulk", "patch", "put", "tags", "untag", "archive", "restore", "erase", "group"])
        contact_id = self._some_id()
        if op == "create" or contact_id is None:
            body: dict[str, Any] = {"email": self._email(), "firstName": rng.choice(["Ann", "Bob", None])}
            if rng.random() < 0.3:
                body["externalId"] = f"X-{rng.randrange(10**6)}"
            answer = caller.post("/api/contacts", body)
            if answer.status_code == 201:
                self.ids.append(answer.json_body["id"])
        elif op == "bulk":
            rows = [
                {"email": self._email(), "company": rng.choice(["Acme", "Initech"])} for _ in range(rng.randint(1, 8))
            ]
            answer = caller.post(
                "/api/contacts/bulk", {"contacts": rows, "restoreDeleted": True, "returnResults": True}
            )
            self.ids.extend(r["id"] for r in answer.json_body["results"] if r["action"] == "created")
        elif op in ("patch", "put"):
            change = rng.choice(
                [{"lastName": f"L{rng.randrange(100)}"}, {"email": self._email()}, {"status": "customer"}]
            )
            caller.request(op.upper(), f"/api/contacts/{contact_id}", change)
        elif op == "tags":
            caller.post(f"/api/contacts/{contact_id}/tags", {"tags": [rng.choice(["vip", "new"])]})
        elif op == "untag":
            caller.delete(f"/api/contacts/{contact_id}/tags", {"tags": ["vip"]})
        elif op == "archive":
            caller.delete(f"/api/contacts/{contact_id}")
        elif op == "restore":
            caller.post(f"/api/contacts/{contact_id}/restore")
        elif op == "erase":
            caller.delete(f"/api/contacts/{contact_id}?permanent=true")
        else:
            caller.post(f"/api/groups/{self.group_id}/contacts/attach", {"contactIds": [contact_id]})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_client_polling_a_mixed_workload_rebuilds_the_final_state(
    acme: Caller, relay: RelayPump, clock: FakeClock, seed: int
) -> None:
    rng = random.Random(seed)
    group_id = acme.post("/api/groups", {"name": "g"}).json_body["id"]
    workload = Workload(acme, rng, group_id)
    feed = FeedClient(acme, limit=rng.choice([3, 10, 100]))
    for _ in range(60):
        workload.step()
        if rng.random() < 0.5:
            relay.pump()
            if relay.batches and rng.random() < 0.15:
                relay.replay_last()  # the stream redelivers a batch whose handler failed
        if rng.random() < 0.3:
            clock.advance(rng.uniform(0, 1.5 * settings.feed_settle_seconds))
            feed.poll()
    relay.pump()
    clock.settle()
    feed.drain()

    expected = {}
    for contact_id in set(workload.ids):
        answer = acme.get(f"/api/contacts/{contact_id}")
        if answer.status_code == 200:
            expected[contact_id] = answer.json_body
        else:
            assert answer.status_code == 404
    assert feed.contacts == expected
    assert feed.erased == set(workload.ids) - set(expected)
