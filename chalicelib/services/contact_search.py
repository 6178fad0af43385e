"""Listing and search of contacts: word-prefix search through the search index, sorting, cursor paging.

A request picks one candidate stream, in the requested order, and checks each candidate
against the stored contact (docs/search.md):
- search text with a selective word: the postings of its longest word (at most
  MAX_POSTINGS), sorted in memory by the requested field;
- otherwise the sort order itself: the contacts table (email order, consistent), a tag's or
  group's membership partition (email order), or the sharded createdAt/updatedAt entries.
Every candidate is re-checked against the contact as stored (words, filters, archived,
still at that position), so a lagging index can hide a fresh change for a moment but never
shows a contact that does not match. A request examines at most MAX_EXAMINED candidates;
the cursor is the position of the last one, so a page may be short but a walk is complete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.repository import bulk as bulk_repo
from chalicelib.repository import contacts as contacts_repo
from chalicelib.repository import search_index as index
from chalicelib.repository.batch import Deadline
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.contacts import ContactPage, ListQuery, SearchBody, SortField
from chalicelib.services import counters, cursors
from chalicelib.services.auth import Principal
from chalicelib.services.contacts import render_items
from chalicelib.services.search_words import ContactText, Term, exact_email, matches, parse_query

# Postings read to plan a search: a word found under more contacts is not selective, and
# the search walks the sort order instead (checking words on each contact).
MAX_POSTINGS = 5000
# Sorting a search by updatedAt needs the contacts themselves (postings do not follow updates).
MAX_POSTINGS_BY_UPDATED_AT = 1000
# Candidates one request looks at, so that a rare match cannot time the request out.
MAX_EXAMINED = 1000
LOAD_CHUNK = 100
# Items a Query of the walk asks for when words or filters reject some candidates.
WALK_PAGE = 200
# Words tried as the driver, longest first, before falling back to walking the sort order.
MAX_DRIVER_TRIES = 2
# The cursor plan of a search that walks the sort order because none of its words is selective.
WALK = "walk"


@dataclass
class ContactFilter:
    status: str | None = None
    subscription: str | None = None
    tags: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)

    def matches(self, item: ContactItem) -> bool:
        if item.deleted_at is not None:
            return False
        if self.status is not None and item.status != self.status:
            return False
        if self.subscription is not None and item.subscription != self.subscription:
            return False
        if not set(self.tags) <= set(item.tags or ()):
            return False
        if not set(self.group_ids) <= set(item.group_ids or ()):
            return False
        stored = item.custom_fields or {}
        return all(stored.get(key) == value for key, value in self.custom_fields.items())

    def membership(self) -> str | None:
        """A membership partition that narrows an email-ordered listing, if a filter names one."""
        if self.tags:
            return contacts_repo.tag_membership(self.tags[0])
        if self.group_ids:
            return contacts_repo.group_membership(self.group_ids[0])
        return None

    def is_empty(self) -> bool:
        return self == ContactFilter()


@dataclass(frozen=True)
class Request:
    tenant_id: str
    terms: list[Term]
    where: ContactFilter
    sort: SortField
    descending: bool
    limit: int

    def signature(self) -> str:
        """What a cursor is bound to: the same query (text, filters, order), whatever the page size."""
        raw = json.dumps(
            [
                [t.text for t in self.terms],
                self.where.status,
                self.where.subscription,
                sorted(self.where.tags),
                sorted(self.where.group_ids),
                self.where.custom_fields,
                self.sort,
                self.descending,
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def after(self, position: str, cursor_position: str | None) -> bool:
        if cursor_position is None:
            return True
        return position < cursor_position if self.descending else position > cursor_position


@dataclass(frozen=True)
class Candidate:
    """A contact a stream offers at `position`; `contact` when the stream read it already."""

    position: str
    email: str
    contact_id: str
    contact: ContactItem | None = None


def position_of(sort: SortField, contact: ContactItem) -> str:
    """A contact's place in a sort order, comparable as a string ("<value> <email>"; email order: the email)."""
    if sort == "email":
        return contact.email
    value = contact.created_at if sort == "createdAt" else contact.updated_at
    return f"{value}{index.SEPARATOR}{contact.email}"


def _posting_position(sort: SortField, posting: index.Posting) -> str:
    return posting.email if sort == "email" else f"{posting.created_at}{index.SEPARATOR}{posting.email}"


def _indexed(request: Request, after: str | None) -> Iterator[Candidate] | None:
    """Candidates from the postings of the most selective word, in the requested order; None if none is selective."""
    prefixes = sorted({p for term in request.terms for p in term.index_prefixes()}, key=len, reverse=True)
    at_most = MAX_POSTINGS_BY_UPDATED_AT if request.sort == "updatedAt" else MAX_POSTINGS
    found: list[index.Posting] | None = None
    for prefix in prefixes[:MAX_DRIVER_TRIES]:
        found = index.postings(request.tenant_id, prefix, at_most)
        if found is not None:
            break
    if found is None:
        return None
    candidates: dict[str, Candidate] = {}
    if request.sort == "updatedAt":
        loaded = bulk_repo.load_contacts(request.tenant_id, {p.email for p in found}, Deadline())
        for email, contact in loaded.items():
            candidates[email] = Candidate(position_of(request.sort, contact), email, contact.contact_id, contact)
    else:
        for posting in found:
            position = _posting_position(request.sort, posting)
            candidates[posting.email] = Candidate(position, posting.email, posting.contact_id)
    address = exact_email(request.terms)
    if address is not None:
        # One whole address: the contact itself answers, consistent at once, whatever the index knows yet.
        stored = contacts_repo.get_by_email(request.tenant_id, address)
        if stored is not None:
            candidates[address] = Candidate(position_of(request.sort, stored), address, stored.contact_id, stored)
    ordered = sorted(candidates.values(), key=lambda c: c.position, reverse=request.descending)
    return (c for c in ordered if request.after(c.position, after))


def _in_order(request: Request, after: str | None) -> Iterator[Candidate]:
    """Every contact (or every member of a filter's tag or group) in the requested order, after a position."""
    busy = bool(request.terms) or not request.where.is_empty()
    page_size = WALK_PAGE if busy else request.limit + 1
    if request.sort == "email":
        membership = request.where.membership()
        if membership is not None:
            members = index.members_by_email(request.tenant_id, membership, request.descending, after, page_size)
            return (Candidate(m.position, m.email, m.contact_id) for m in members)
        contacts = index.contacts_by_email(request.tenant_id, request.descending, after, page_size)
        return (Candidate(c.email, c.email, c.contact_id, c) for c in contacts)
    entries = index.sort_stream(request.tenant_id, request.sort, request.descending, after, max(page_size, 50))
    return (Candidate(e.position, e.email, e.contact_id) for e in entries)


def _with_contacts(tenant_id: str, candidates: Iterator[Candidate], first: int) -> Iterator[Candidate]:
    """The candidates with their stored contact (None when gone), in order, loaded with BatchGetItem a chunk at a time.

    A candidate that already carries its contact (the email-order walk reads the contacts
    themselves) is handed on at once: reading ahead would only pull more of the walk's pages.
    """
    size = first
    waiting: list[Candidate] = []
    for candidate in candidates:
        if candidate.contact is not None and not waiting:
            yield candidate
            continue
        waiting.append(candidate)
        if len(waiting) == size:
            yield from _loaded(tenant_id, waiting)
            waiting, size = [], LOAD_CHUNK
    yield from _loaded(tenant_id, waiting)


def _loaded(tenant_id: str, chunk: list[Candidate]) -> Iterator[Candidate]:
    wanted = {c.email for c in chunk if c.contact is None}
    loaded = bulk_repo.load_contacts(tenant_id, wanted, Deadline()) if wanted else {}
    for candidate in chunk:
        if candidate.contact is None:
            candidate = replace(candidate, contact=loaded.get(candidate.email))
        yield candidate


def _accepts(request: Request, candidate: Candidate) -> bool:
    contact = candidate.contact
    if contact is None or contact.contact_id != candidate.contact_id:
        return False  # erased, or an index entry older than the item now at that email
    if position_of(request.sort, contact) != candidate.position:
        return False  # moved in the sort order since it was indexed: its new entry stands for it
    if not request.where.matches(contact):
        return False
    text = ContactText(contact.email, contact.first_name, contact.last_name, contact.company)
    return matches(request.terms, text)


def _page(request: Request, cursor: str | None) -> ContactPage:
    signature = request.signature()
    start = cursors.decode_position(cursor, request.tenant_id, signature)
    after = start.after if start else None
    stream: Iterator[Candidate] | None = None
    if request.terms and not (start and start.plan == WALK):
        stream = _indexed(request, after)
    # Only a search whose words are all broad walks with text: its cursor says so, and the next
    # page skips sizing up the words again. Any plan continues any other's position.
    plan = WALK if request.terms and stream is None else None
    if stream is None:
        stream = _in_order(request, after)
    found: list[Candidate] = []
    for examined, candidate in enumerate(_with_contacts(request.tenant_id, stream, request.limit + 1), start=1):
        if _accepts(request, candidate):
            if len(found) == request.limit:  # one more match exists: there is a next page
                next_cursor = cursors.encode(request.tenant_id, signature, found[-1].position, plan)
                return _answer(request.tenant_id, found, next_cursor)
            found.append(candidate)
        if examined >= MAX_EXAMINED:
            # Everything up to this candidate was looked at, so the next page starts after it.
            next_cursor = cursors.encode(request.tenant_id, signature, candidate.position, plan)
            return _answer(request.tenant_id, found, next_cursor)
    return _answer(request.tenant_id, found, None)


def _answer(tenant_id: str, found: Iterable[Candidate], next_cursor: str | None) -> ContactPage:
    """The page; a stored contact that cannot be rendered is logged and reported, never fails the listing."""
    shown, broken = render_items(tenant_id, (c.contact for c in found if c.contact is not None))
    return ContactPage(data=shown, nextCursor=next_cursor, unrenderableIds=broken)


def list_contacts(principal: Principal, query: ListQuery) -> ContactPage:
    where = ContactFilter(
        status=query.status,
        subscription=query.subscription,
        tags=[query.tag] if query.tag else [],
        group_ids=[query.group] if query.group else [],
    )
    request = Request(
        principal.tenant_id, parse_query(query.search), where, query.sort, query.order == "desc", query.limit
    )
    page = _page(request, query.cursor)
    return counters.with_total(principal.tenant_id, page, query) if query.includeTotal else page


def search_contacts(principal: Principal, body: SearchBody) -> ContactPage:
    filters = body.filters
    where = ContactFilter(
        status=filters.status,
        subscription=filters.subscription,
        tags=filters.tags,
        group_ids=filters.groupIds,
        custom_fields=filters.customFields,
    )
    request = Request(
        principal.tenant_id,
        parse_query(body.query),
        where,
        body.sort.field,
        body.sort.order == "desc",
        body.limit,
    )
    page = _page(request, body.cursor)
    return counters.with_total(principal.tenant_id, page, body) if body.includeTotal else page
