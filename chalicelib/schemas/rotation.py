"""Bodies and answers of tag-rotation rules."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field, StrictInt, StringConstraints, ValidationInfo, field_validator

from chalicelib.schemas.common import Body, Model, Tag

MAX_EXPIRE_DAYS = 3650


def _is_date(text: str) -> bool:
    try:
        return len(text) == 10 and date.fromisoformat(text) is not None
    except ValueError:
        return False


Prefix = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TagRotationCreate(Body):
    sourcePrefix: Prefix  # declared first: pointerTag's check reads it
    pointerTag: Tag
    expireAfterDays: Annotated[StrictInt, Field(ge=1, le=MAX_EXPIRE_DAYS)] | None = None

    @field_validator("pointerTag")
    @classmethod
    def _pointer_is_no_source(cls, value: str, info: ValidationInfo) -> str:
        """The pointer may share the prefix (the contract's own example does: "crm-sync:current" and
        "crm-sync:") and is never taken as a source; but a pointer that looks like a dated source tag
        would be expired by its own rule."""
        prefix = info.data.get("sourcePrefix")
        if prefix and (value == prefix or (value.startswith(prefix) and _is_date(value[len(prefix) :]))):
            raise ValueError("must not look like a source tag (sourcePrefix followed by a YYYY-MM-DD date)")
        return value


class TagRotationRule(Model):
    id: str
    pointerTag: str
    sourcePrefix: str
    expireAfterDays: int | None
    createdAt: str
    lastRunAt: str | None = None


class TagRotationList(Model):
    data: list[TagRotationRule]


class RotationResult(Model):
    sourceTag: str | None
    added: int
    removed: int
