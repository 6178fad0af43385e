"""The changes feed's query and answer (GET /api/contacts/changes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from chalicelib.schemas.common import MAX_PAGE, Model
from chalicelib.schemas.contacts import Contact

ChangeKind = Literal["upserted", "archived", "erased"]


class ChangesQuery(Model):
    """Query string of the feed: `since` (a cursor) wins over `updatedSince` (an ISO time)."""

    since: str | None = None
    updatedSince: datetime | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 100


class ContactChangeEntry(Model):
    contact: Contact | None  # null for erased: only the id and externalId remain
    id: str
    externalId: str | None
    change: ChangeKind
    changedAt: str


class ChangesPage(Model):
    data: list[ContactChangeEntry]
    nextCursor: str  # always returned, also on an empty page: polling is a loop
