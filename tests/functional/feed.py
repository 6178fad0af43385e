"""A changes-feed client for tests: polls with its stored cursor and rebuilds the tenant's contacts from the feed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.services import changes_feed
from chalicelib.settings import settings
from tests.functional.conftest import Caller


class FakeClock:
    """The feed's clock, driven by the test: every reading moves it 1 ms on; `advance` jumps."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(milliseconds=1)
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)

    def settle(self) -> None:
        """Past the settle window: everything written so far is readable."""
        self.advance(settings.feed_settle_seconds + 0.01)

    @contextmanager
    def installed(self) -> Iterator[FakeClock]:
        with changes_feed.use_clock(self):
            yield self


@dataclass
class FeedClient:
    """What an incremental-sync client does: store `nextCursor`, apply each page to its copy."""

    caller: Caller
    limit: int = 100
    cursor: str | None = None
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    pages: list[list[dict[str, Any]]] = field(default_factory=list)

    def poll(self) -> list[dict[str, Any]]:
        query = f"?limit={self.limit}" + (f"&since={self.cursor}" if self.cursor else "")
        answer = self.caller.get(f"/api/contacts/changes{query}")
        assert answer.status_code == 200, answer.body
        body = answer.json_body
        assert body["nextCursor"], "the cursor is always returned"
        ids = [entry["id"] for entry in body["data"]]
        assert len(ids) == len(set(ids)), "a contact at most once per page"
        self.cursor = body["nextCursor"]
        for entry in body["data"]:
            if entry["change"] == "erased":
                assert entry["contact"] is None and set(entry) == {"contact", "id", "externalId", "change", "changedAt"}
                self.contacts.pop(entry["id"], None)
                self.erased.add(entry["id"])
            else:
                self.contacts[entry["id"]] = entry["contact"]
                self.erased.discard(entry["id"])
        self.pages.append(body["data"])
        return list(body["data"])

    def drain(self) -> list[dict[str, Any]]:
        """Poll until a page comes back empty; answer every entry seen."""
        seen: list[dict[str, Any]] = []
        while True:
            page = self.poll()
            if not page:
                return seen
            seen.extend(page)
