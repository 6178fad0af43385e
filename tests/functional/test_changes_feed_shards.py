"""The changes feed spread over 4 partition keys per tenant: writes land by contact, reads merge and skip nothing."""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib.repository import changes_feed as feed_repo
from chalicelib.services import changes_feed
from chalicelib.settings import settings
from tests.functional.conftest import Caller
from tests.functional.dynamo import DropHalf, hooked
from tests.functional.feed import FakeClock, FeedClient
from tests.functional.stream import ContactStream, RelayPump

SHARDS = 4


@pytest.fixture
def clock(aws: None) -> Iterator[FakeClock]:
    with FakeClock().installed() as fake:
        yield fake


def stored_entries(tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's feed entries as the table holds them (a Scan, straight from moto)."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=settings.changes_table)
    items = [item for page in pages for item in page["Items"]]
    return [item for item in items if item["pk"]["S"].rsplit("#", 1)[0] == tenant_id]


def shard_key(tenant_id: str, contact_id: str) -> str:
    # Written out here rather than imported: the hash must stay the same across releases,
    # or a contact's entries would change keys (and order) between two deployments.
    return f"{tenant_id}#{zlib.crc32(contact_id.encode()) % SHARDS}"


def create(caller: Caller, count: int, prefix: str) -> list[str]:
    rows = [{"email": f"{prefix}{i:03}@example.com"} for i in range(count)]
    answer = caller.post("/api/contacts/bulk", {"contacts": rows, "returnResults": True}).json_body
    return [result["id"] for result in answer["results"]]


def test_a_tenants_entries_land_on_four_keys_and_each_contacts_on_one(
    acme: Caller, globex: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    ids = create(acme, 40, "a")
    acme.patch("/api/contacts/bulk/tags", {"contactIds": ids, "addTags": ["vip"]})
    theirs = create(globex, 5, "g")
    relay.pump()

    entries = stored_entries(acme.tenant_id)
    assert Counter(entry["id"]["S"] for entry in entries) == {contact_id: 2 for contact_id in ids}  # create + tag
    assert {entry["pk"]["S"] for entry in entries} == {f"{acme.tenant_id}#{n}" for n in range(SHARDS)}
    for entry in entries:
        assert entry["pk"]["S"] == shard_key(acme.tenant_id, entry["id"]["S"])
        assert entry["position"]["S"].split("#")[1] == entry["id"]["S"]
    assert {entry["id"]["S"] for entry in stored_entries(globex.tenant_id)} == set(theirs)


def test_a_walk_with_small_limits_returns_every_change_once_in_position_order(
    acme: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    created: list[str] = []
    for round_ in range(3):  # three stamps, each batch spread over the shards
        created += sorted(create(acme, 15, f"r{round_}-"))  # one stamp a batch: then by id
        relay.pump()
        clock.advance(0.5)
    assert {shard_key(acme.tenant_id, contact_id) for contact_id in created} == {
        f"{acme.tenant_id}#{n}" for n in range(SHARDS)
    }
    clock.settle()
    feed = FeedClient(acme, limit=4)
    queries: list[str] = []

    def count_feed_queries(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == settings.changes_table:
            queries.append(params["KeyConditionExpression"])

    with hooked("provide-client-params.dynamodb.Query", count_feed_queries):
        seen = feed.drain()
    assert [e["id"] for e in seen] == created  # each once, in position order
    assert [(e["changedAt"], e["id"]) for e in seen] == sorted((e["changedAt"], e["id"]) for e in seen)
    assert len(queries) >= SHARDS * len(feed.pages)  # every page asks every shard

    acme.patch("/api/contacts/bulk/tags", {"contactIds": created[::2], "addTags": ["vip"]})
    relay.pump()
    clock.settle()
    later = FeedClient(acme, limit=3, cursor=feed.cursor).drain()
    assert sorted(e["id"] for e in later) == sorted(created[::2])
    assert all(e["contact"]["tags"] == ["vip"] for e in later)
    assert [(e["changedAt"], e["id"]) for e in later] == sorted((e["changedAt"], e["id"]) for e in later)


def test_a_page_stopped_by_the_examined_bound_skips_nothing_in_a_shard_read_less_far(
    acme: Caller, clock: FakeClock
) -> None:
    ids = create(acme, 20, "c")
    shards = {shard_key(acme.tenant_id, contact_id): contact_id for contact_id in ids}
    busy, quiet = list(shards.values())[:2]  # two contacts on two different keys
    assert shard_key(acme.tenant_id, busy) != shard_key(acme.tenant_id, quiet)
    stream = {change.new.contact_id: change for change in ContactStream().changes() if change.new is not None}

    def copies(contact_id: str, first: int, count: int) -> list[Any]:
        # The same change again under later sequence numbers: the writer makes one entry of each.
        change = stream[contact_id]
        return [dataclasses.replace(change, sequence_number=str(first + n)) for n in range(count)]

    bound = changes_feed.MAX_EXAMINED
    changes_feed.apply_changes(copies(busy, 1, 10))  # shard A: early entries...
    changes_feed.apply_changes(copies(quiet, 1, 1))  # shard B: one early entry among them
    changes_feed.apply_changes(copies(busy, 11, bound + 40))  # ...and a long run, past the bound
    changes_feed.apply_changes(copies(quiet, 2, 1))  # shard B again, after all of it
    clock.settle()
    positions = sorted(entry["position"]["S"] for entry in stored_entries(acme.tenant_id))
    assert len(positions) == bound + 52

    first = acme.get("/api/contacts/changes?limit=100").json_body
    # The page stops at the bound inside shard A's run. Shard B's Query already returned both its
    # entries, but the cursor is the last entry the page consumed, not the furthest any shard read.
    assert [e["id"] for e in first["data"]] == [quiet, busy]
    assert changes_feed.cursors.decode(first["nextCursor"], acme.tenant_id, "changes") == positions[bound - 1]
    feed = FeedClient(acme, limit=100, cursor=first["nextCursor"])
    feed.drain()
    assert [[e["id"] for e in page] for page in feed.pages] == [[busy, quiet], []]
    assert feed.pages[0][0]["changedAt"] == positions[-2][:24]  # shard A's last entry, none of its run skipped


def ids_on_each_shard(tenant_id: str, per_shard: int) -> list[list[str]]:
    """Contact ids chosen so that each of the tenant's shards holds `per_shard` of them."""
    shards: list[list[str]] = [[] for _ in range(SHARDS)]
    n = 0
    while any(len(ids) < per_shard for ids in shards):
        contact_id = f"c{n:04}"
        shard = int(shard_key(tenant_id, contact_id).rsplit("#", 1)[1])
        if len(shards[shard]) < per_shard:
            shards[shard].append(contact_id)
        n += 1
    return shards


def feed_reads(tenant_id: str, wanted: int) -> list[int]:
    """Entries each Query transferred while the first `wanted` entries of the merged feed were read."""
    returned: list[int] = []

    def count(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name == "Query":
            returned.append(len(parsed["Items"]))

    with hooked("after-call.dynamodb", count):
        entries = feed_repo.read_entries(tenant_id, "", "9999", wanted)
        assert len([entry for _, entry in zip(range(wanted), entries, strict=False)]) == wanted
    return returned


def test_a_page_reads_about_twice_the_entries_it_wants_not_a_page_from_every_shard(acme: Caller) -> None:
    shards = ids_on_each_shard(acme.tenant_id, 10)

    def entry(contact_id: str, second: int, sequence: int = 1) -> Any:
        return feed_repo.new_entry(
            acme.tenant_id,
            contact_id,
            f"2026-01-01T00:00:{second:02}.000Z#{contact_id}#{sequence:04}",
            external_id=None,
            change="updated",
            changed_at=f"2026-01-01T00:00:{second:02}.000Z",
            contact=None,
            expires_at=2_000_000_000,
        )

    # Spread evenly, the way contacts hash: second after second, one entry on every shard.
    feed_repo.put_entries([entry(ids[n], 10 + n) for n in range(10) for ids in shards])
    assert feed_reads(acme.tenant_id, 8) == [4, 4, 4, 4]  # 2 wanted from each shard; each is asked for 4
    assert feed_reads(acme.tenant_id, 40) == [10, 10, 10, 10]  # asked for 20 each: all of the 40 in 4 Queries
    # Skewed: one contact changed 30 times before all of that. Its shard is read on, a Query at a time.
    busy = shards[0][0]
    feed_repo.put_entries([entry(busy, 0, sequence) for sequence in range(30)])
    assert feed_reads(acme.tenant_id, 8) == [4, 4, 4, 4, 4]


class DropFeedHalf(DropHalf):
    """DropHalf on the feed's own batches only (the other consumers write the same way, tested elsewhere)."""

    def before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **kw: Any) -> None:
        if settings.changes_table in params.get("RequestItems", {}):
            super().before(model, params, context, **kw)


def test_a_retried_slow_write_over_the_shards_duplicates_entries_but_never_loses_one(
    acme: Caller, relay: RelayPump, clock: FakeClock
) -> None:
    feed = FeedClient(acme, limit=7, cursor=acme.get("/api/contacts/changes").json_body["nextCursor"])
    ids = create(acme, 40, "f")
    polled: list[list[dict[str, Any]]] = []

    def slow_first_call(context: dict[str, Any], **_: Any) -> None:
        if not context.get("test_dropped") or polled:
            return
        polled.append([])  # claimed: the batch's other chunk runs on another thread
        # Half of this batch landed, half came back unprocessed and waits for its retry; meanwhile
        # the write has taken longer than the settle window and a reader passes its stamp.
        clock.advance(settings.feed_settle_seconds * 1.5)
        polled[0] = feed.drain()

    with DropFeedHalf(times=2).installed(), hooked("after-call.dynamodb", slow_first_call):
        relay.pump()
    clock.settle()
    feed.drain()

    assert polled and polled[0], "the reader saw the half that landed before the retry"
    assert set(feed.contacts) == set(ids)
    assert feed.contacts == {contact_id: acme.get(f"/api/contacts/{contact_id}").json_body for contact_id in ids}
    entries = stored_entries(acme.tenant_id)
    assert Counter(entry["id"]["S"] for entry in entries) == {contact_id: 2 for contact_id in ids}  # and the rewrite
    assert all(entry["pk"]["S"] == shard_key(acme.tenant_id, entry["id"]["S"]) for entry in entries)
