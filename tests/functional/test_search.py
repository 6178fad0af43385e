"""Indexed word-prefix search and sorting: what a user sees, and the index consumer's guarantees."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.repository import search_index as index_repo
from chalicelib.services import contact_search, cursors, search_index
from chalicelib.services.search_words import parse_query
from chalicelib.settings import settings
from tests.functional.conftest import Caller
from tests.functional.dynamo import counting, hooked
from tests.functional.stream import ContactStream

Pump = Callable[[], int]


def emails(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.json_body
    return [c["email"] for c in answer.json_body["data"]]


def search(caller: Caller, query: str, **body: Any) -> list[str]:
    return emails(caller.post("/api/contacts/search", {"query": query, "limit": 100, **body}))


def walk(caller: Caller, body: dict[str, Any], cursor: str | None = None) -> list[str]:
    """Every email a search returns by following nextCursor (POST /api/contacts/search), from `cursor` on."""
    found: list[str] = []
    for _ in range(10_000):
        page = caller.post("/api/contacts/search", {**body, "cursor": cursor}).json_body
        found += [c["email"] for c in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return found
    raise AssertionError("the cursor walk did not end")


def bulk(caller: Caller, rows: list[dict[str, Any]]) -> None:
    answer = caller.post("/api/contacts/bulk", {"contacts": rows})
    assert answer.status_code == 200 and not answer.json_body["errors"], answer.json_body


@pytest.fixture
def alice(acme: Caller, index_pump: Pump) -> Caller:
    for row in [
        {"email": "alice@example.com", "firstName": "Alice", "company": "Acme Corp"},
        {"email": "zoe@muller.de", "firstName": "Zoë", "lastName": "Müller"},
        {"email": "bob@example.org", "firstName": "Bob", "company": "Example.com Ltd"},
    ]:
        assert acme.post("/api/contacts", row).status_code == 201
    index_pump()
    return acme


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("alice@exa", ["alice@example.com"]),
        ("alice", ["alice@example.com"]),
        ("example.com", ["alice@example.com"]),  # Bob's company says example.com, but dotted terms meet emails only
        ("exam", ["alice@example.com", "bob@example.org"]),
        ("example.org", ["bob@example.org"]),
        ("acme co", ["alice@example.com"]),
        ("cme", []),
        ("ZOE MULL", ["zoe@muller.de"]),
        ("zoë", ["zoe@muller.de"]),
        ("muller.de", ["zoe@muller.de"]),
    ],
)
def test_word_prefix_search_follows_the_contract(alice: Caller, query: str, expected: list[str]) -> None:
    assert search(alice, query) == expected
    assert emails(alice.get(f"/api/contacts?search={query.replace(' ', '+')}")) == expected


def test_a_whole_address_is_found_at_once_other_searches_after_the_index_caught_up(
    acme: Caller, index_pump: Pump
) -> None:
    created = acme.post("/api/contacts", {"email": "New.Person@example.com", "firstName": "Newton"})
    assert created.status_code == 201
    assert search(acme, "new.person@example.com") == ["new.person@example.com"]
    assert search(acme, "newton") == []  # the index follows the stream
    index_pump()
    assert search(acme, "newton") == ["new.person@example.com"]
    assert search(acme, "new.person@example.com", filters={"status": "lead"}) == []


def test_changes_archive_restore_and_erase_follow_into_the_index(alice: Caller, index_pump: Pump) -> None:
    contact = alice.post("/api/contacts/search", {"query": "alice"}).json_body["data"][0]
    path = f"/api/contacts/{contact['id']}"
    alice.patch(path, {"firstName": "Alicia", "company": "Globex", "email": "alicia@globex.com"})
    index_pump()
    assert search(alice, "acme") == []
    assert search(alice, "alicia glob") == ["alicia@globex.com"]
    assert search(alice, "alice@") == []
    alice.delete(path)
    index_pump()
    assert search(alice, "alicia") == []
    assert search(alice, "alicia@globex.com") == []  # archived contacts are left out, also when exact
    alice.post(path + "/restore")
    index_pump()
    assert search(alice, "alicia") == ["alicia@globex.com"]
    alice.delete(path + "?permanent=true")
    index_pump()
    tenant_items = index_repo.index_item_keys(alice.tenant_id)
    assert not [key for key in tenant_items if "alicia" in key[1] or "globex" in key[1]]


def _expected_index(tenant_id: str) -> set[index_repo.ItemKey]:
    """The index a from-scratch build of the stored contacts would hold."""
    keys: set[index_repo.ItemKey] = set()
    for contact in index_repo.contacts_by_email(tenant_id, False, None, 100):
        spec = search_index.indexed(contact)
        if spec is not None:
            keys.update(spec.items())
    return keys


def test_a_replayed_or_out_of_date_batch_leaves_the_index_equal_to_the_contacts(acme: Caller) -> None:
    stream = ContactStream()
    contact = acme.post("/api/contacts", {"email": "carol@one.com", "firstName": "Carol"}).json_body
    first = stream.changes()
    acme.patch(f"/api/contacts/{contact['id']}", {"firstName": "Caroline", "email": "caro@two.com"})
    acme.post("/api/contacts", {"email": "dan@three.com", "lastName": "Dantes"})
    second = stream.changes()
    search_index.apply_changes(first)
    search_index.apply_changes(second)
    built = index_repo.index_item_keys(acme.tenant_id)
    assert built == _expected_index(acme.tenant_id)
    search_index.apply_changes(second)  # the stream redelivers a batch
    search_index.apply_changes(first)  # a record older than what is stored
    assert index_repo.index_item_keys(acme.tenant_id) == built
    assert search(acme, "carol") == ["caro@two.com"]
    assert search(acme, "one.com") == []


def test_a_failed_index_write_raises_so_the_stream_retries_and_the_retry_completes(acme: Caller) -> None:
    stream = ContactStream()
    acme.post("/api/contacts", {"email": "erin@example.com", "firstName": "Erin"})
    changes = stream.changes()

    def refuse(model: Any, **_: Any) -> None:
        if model.name == "BatchWriteItem":
            raise ConnectionError("DynamoDB unreachable")

    with hooked("before-call.dynamodb", refuse), pytest.raises(ConnectionError):
        search_index.apply_changes(changes)
    assert search(acme, "erin") == []
    search_index.apply_changes(changes)
    assert search(acme, "erin") == ["erin@example.com"]


@pytest.fixture
def dated(acme: Caller, index_pump: Pump) -> Caller:
    """Five contacts created in the order e, c, a, d, b; then c and a updated, in that order."""
    ids = {}
    for name in "ecadb":
        ids[name] = acme.post("/api/contacts", {"email": f"{name}@dated.com", "company": "Dated"}).json_body["id"]
    acme.patch(f"/api/contacts/{ids['c']}", {"status": "lead"})
    acme.patch(f"/api/contacts/{ids['a']}", {"status": "lead"})
    index_pump()
    return acme


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("email", "asc", "abcde"),
        ("email", "desc", "edcba"),
        ("createdAt", "asc", "ecadb"),
        ("createdAt", "desc", "bdace"),
        ("updatedAt", "asc", "edbca"),
        ("updatedAt", "desc", "acbde"),
    ],
)
def test_sorting_both_ways_on_each_field_for_list_and_search(dated: Caller, sort: str, order: str, expected: str):
    want = [f"{name}@dated.com" for name in expected]
    assert emails(dated.get(f"/api/contacts?sort={sort}&order={order}")) == want
    assert [c["email"] for c in dated.walk_pages(f"/api/contacts?sort={sort}&order={order}&limit=2")] == want
    assert walk(dated, {"query": "dated", "sort": {"field": sort, "order": order}, "limit": 2}) == want
    assert walk(dated, {"sort": {"field": sort, "order": order}, "limit": 3}) == want
    leads = [e for e in want if e[0] in "ac"]
    assert walk(dated, {"filters": {"status": "lead"}, "sort": {"field": sort, "order": order}, "limit": 1}) == leads


@pytest.mark.parametrize("sort", ["email", "createdAt", "updatedAt"])
@pytest.mark.parametrize(("order", "query"), [("asc", None), ("desc", "walker")])
def test_a_walk_returns_every_contact_that_existed_throughout_exactly_once_while_others_change(
    acme: Caller, index_pump: Pump, sort: str, order: str, query: str | None
) -> None:
    rng = random.Random(f"{sort}{order}{query}")
    bulk(acme, [{"email": f"w{i:03}@walk.com", "firstName": "Walker"} for i in range(60)])
    index_pump()
    ids = {c["email"]: c["id"] for c in acme.walk_pages("/api/contacts?limit=100")}
    steady = set(ids)
    body: dict[str, Any] = {"query": query, "sort": {"field": sort, "order": order}, "limit": 7}
    seen: list[str] = []
    cursor = None
    for step in range(1000):
        page = acme.post("/api/contacts/search", {**body, "cursor": cursor}).json_body
        seen += [c["email"] for c in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        # Between pages: new contacts, archived ones and changed ones (whose updatedAt moves).
        acme.post("/api/contacts", {"email": f"new{step}@walk.com", "firstName": "Walker"})
        victim = rng.choice(sorted(steady))
        if step % 2:
            acme.delete(f"/api/contacts/{ids[victim]}")
        else:
            acme.patch(f"/api/contacts/{ids[victim]}", {"lastName": f"Changed {step}"})
        steady.discard(victim)
        index_pump()
    assert len(steady) > 40
    for email in steady:
        assert seen.count(email) == 1, email


def test_completeness_when_matches_are_spread_and_a_filter_is_selective(
    acme: Caller, index_pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small request budgets stand in for a large tenant: every request hits its bound.
    monkeypatch.setattr(contact_search, "MAX_EXAMINED", 25)
    rows = [
        {"email": f"p{i:04}@spread.com", "firstName": "Needle" if i % 13 == 0 else "Hay", "status": f"s{i % 3}"}
        for i in range(200)
    ]
    bulk(acme, rows)
    index_pump()
    needles = sorted(r["email"] for r in rows if r["firstName"] == "Needle")
    assert walk(acme, {"query": "needle", "limit": 3}) == needles
    selective = sorted(r["email"] for r in rows if r["firstName"] == "Needle" and r["status"] == "s2")
    assert walk(acme, {"query": "needle", "filters": {"status": "s2"}, "limit": 2}) == selective
    # A word too common to drive the plan: the walk goes through the sort order and still finds all.
    monkeypatch.setattr(contact_search, "MAX_POSTINGS", 10)
    assert walk(acme, {"query": "needle", "limit": 3}) == needles
    newest = walk(acme, {"query": "needle", "limit": 4, "sort": {"field": "createdAt", "order": "desc"}})
    assert sorted(newest) == needles and newest[0] == needles[-1]


class PostingReads:
    """The word-posting Queries a request sends: (Select, items transferred) each."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []

    def before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if model.name == "Query" and "begins_with" in params.get("KeyConditionExpression", ""):
            context["test_postings"] = params.get("Select", "ALL_ATTRIBUTES")

    def after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "test_postings" in context:
            self.reads.append((context["test_postings"], len(parsed.get("Items", []))))

    def during(self, action: Callable[[], Any]) -> list[tuple[str, int]]:
        self.reads = []
        with hooked("before-parameter-build.dynamodb", self.before), hooked("after-call.dynamodb", self.after):
            action()
        return self.reads


def test_a_broad_word_is_sized_up_without_transferring_its_postings(
    acme: Caller, index_pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small bounds stand in for a large tenant: 5 postings probed, a word under more than 20 contacts is broad.
    monkeypatch.setattr(index_repo, "PROBE_POSTINGS", 5)
    monkeypatch.setattr(contact_search, "MAX_POSTINGS", 20)
    rows = [{"email": f"b{i:03}@broadco.com", "company": "Broadco"} for i in range(60)]
    rows += [{"email": f"m{i:03}@mid.com", "firstName": "Midname"} for i in range(12)]
    rows += [{"email": f"r{i:03}@rare.com", "lastName": "Rarely"} for i in range(3)]
    bulk(acme, rows)
    index_pump()
    reads = PostingReads()

    # A rare word: one Query of its postings.
    assert reads.during(lambda: search(acme, "rarely")) == [("ALL_ATTRIBUTES", 3)]
    # Between the probe and the bound: probed, the rest counted, then read; each posting transferred once.
    found: list[str] = []
    assert reads.during(lambda: found.extend(search(acme, "midname"))) == [
        ("ALL_ATTRIBUTES", 6),
        ("COUNT", 0),
        ("ALL_ATTRIBUTES", 6),
    ]
    assert found == [f"m{i:03}@mid.com" for i in range(12)]
    # A broad word: the probe and a count, none of the other postings; the search walks the sort order.
    broad = {"query": "broadco", "limit": 25}
    first = reads.during(lambda: found.__setitem__(slice(None), [acme.post("/api/contacts/search", broad).json_body]))
    assert first == [("ALL_ATTRIBUTES", 6), ("COUNT", 0)]
    page = found[0]
    assert [c["email"] for c in page["data"]] == [f"b{i:03}@broadco.com" for i in range(25)]
    # Its cursor remembers the walk: the next pages send no posting Query, and the walk finds every match once.
    following = {**broad, "cursor": page["nextCursor"]}
    assert reads.during(lambda: acme.post("/api/contacts/search", following)) == []
    assert walk(acme, broad) == [f"b{i:03}@broadco.com" for i in range(60)]


def test_a_walk_reads_no_further_than_its_page_needs(
    acme: Caller, index_pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contact_search, "MAX_POSTINGS", 20)  # "broadco" is broad: the search walks email order
    monkeypatch.setattr(contact_search, "WALK_PAGE", 10)
    rows = [{"email": f"c{i:03}@{'broadco' if i % 2 == 0 else 'other'}.com"} for i in range(160)]
    bulk(acme, rows)
    index_pump()
    contact_queries: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        if params["TableName"] == settings.contacts_table:
            contact_queries.append(params["KeyConditionExpression"])

    with hooked("provide-client-params.dynamodb.Query", note):
        page = acme.post("/api/contacts/search", {"query": "broadco", "limit": 25}).json_body
    assert [c["email"] for c in page["data"]] == [f"c{i:03}@broadco.com" for i in range(0, 50, 2)]
    # 51 contacts looked at (25 matches, and the 26th that shows a next page), 10 a Query.
    assert len(contact_queries) == 6


def test_any_plan_a_cursor_names_continues_the_search_correctly(acme: Caller, index_pump: Pump) -> None:
    bulk(acme, [{"email": f"n{i:02}@plan.com", "lastName": "Planner" if i % 2 else "Other"} for i in range(30)])
    index_pump()
    body = {"query": "planner", "limit": 4}
    first = acme.post("/api/contacts/search", body).json_body
    position = cursors.decode(first["nextCursor"], acme.tenant_id, _signature(acme, body))
    assert position is not None
    rest = [f"n{i:02}@plan.com" for i in range(9, 30, 2)]
    assert walk(acme, body, first["nextCursor"]) == rest
    for plan in (contact_search.WALK, "unknown"):
        forged = cursors.encode(acme.tenant_id, _signature(acme, body), position, plan)
        assert walk(acme, body, forged) == rest


def _signature(caller: Caller, body: dict[str, Any]) -> str:
    """The listing a search's cursors are bound to (what contact_search computes from the body)."""
    from chalicelib.schemas.contacts import SearchBody

    parsed = SearchBody.model_validate(body)
    request = contact_search.Request(
        caller.tenant_id,
        parse_query(parsed.query),
        contact_search.ContactFilter(),
        parsed.sort.field,
        parsed.sort.order == "desc",
        parsed.limit,
    )
    return request.signature()


def test_a_search_costs_the_same_calls_whatever_the_tenant_size(acme: Caller, globex: Caller, index_pump: Pump) -> None:
    bulk(acme, [{"email": f"a{i}@small.com", "company": "Small"} for i in range(20)])
    bulk(globex, [{"email": f"g{i}@large.com", "company": "Large"} for i in range(1000)])
    for caller in (acme, globex):
        bulk(caller, [{"email": f"target{i}@x.com", "lastName": "Targetson"} for i in range(5)])
    index_pump()
    calls = []
    for caller in (acme, globex):
        with counting() as log:
            assert len(search(caller, "targetson", limit=20)) == 5
        calls.append(dict(log.calls))
    assert calls[0] == calls[1] == {"Query": 1, "BatchGetItem": 1}


@pytest.mark.parametrize(
    "path",
    [
        "/api/contacts?sort=name",
        "/api/contacts?order=up",
        "/api/contacts?search=" + "a" * 257,
    ],
)
def test_bad_sort_order_or_search_text_is_a_422(acme: Caller, path: str) -> None:
    answer = acme.get(path)
    assert answer.status_code == 422
    assert answer.json_body["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sort": {"field": "firstName"}}, "sort.field"),
        ({"sort": {"order": "random"}}, "sort.order"),
        ({"sort": "email"}, "sort"),
        ({"query": "x" * 257}, "query"),
    ],
)
def test_bad_search_body_is_a_422_naming_the_field(acme: Caller, body: dict[str, Any], field: str) -> None:
    answer = acme.post("/api/contacts/search", body)
    assert answer.status_code == 422
    assert answer.json_body["error"]["details"][0]["field"] == field


def test_a_cursor_only_continues_the_query_it_came_from(alice: Caller) -> None:
    cursor = alice.post("/api/contacts/search", {"query": "exam", "limit": 1}).json_body["nextCursor"]
    assert cursor
    assert alice.post("/api/contacts/search", {"query": "exam", "limit": 1, "cursor": cursor}).status_code == 200
    for other in ({"query": "alice"}, {"query": "exam", "sort": {"field": "createdAt"}}, {"query": "exam mple"}):
        answer = alice.post("/api/contacts/search", {"limit": 1, **other, "cursor": cursor})
        assert answer.status_code == 400
        assert answer.json_body["error"]["code"] == "bad_request"
