"""Query and answers of the activity timeline."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from chalicelib.schemas.common import Model

MAX_TAKE = 200


class ActivityQuery(Model):
    """Query string of GET /api/contacts/{id}/activity (unknown parameters are ignored)."""

    skip: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    take: Annotated[int, Field(ge=1, le=MAX_TAKE)] = 50


class ActivityEntry(Model):
    id: str
    type: str
    occurredAt: str
    source: str
    details: dict[str, Any]


class ActivityPage(Model):
    data: list[ActivityEntry]
    skip: int
    take: int
