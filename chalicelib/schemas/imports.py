"""Bodies and answers of the import routes, the import object, and the import worker's queue messages."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

from chalicelib.schemas.common import MAX_PAGE, Body, GroupId, Model, TagList

ImportFormat = Literal["csv", "ndjson"]
ImportStatus = Literal["awaiting_upload", "queued", "processing", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
MAX_FILE_BYTES = 1024**3  # 1 GiB, uploads and downloads alike
MAX_ROWS = 5_000_000

# Contact fields a file column may feed (besides `customFields.<name>`); `tags` cells split on "|".
COLUMN_TARGETS = (
    "email",
    "firstName",
    "lastName",
    "company",
    "jobTitle",
    "phone",
    "website",
    "status",
    "subscription",
    "externalId",
    "tags",
)
CUSTOM_FIELD_PREFIX = "customFields."
_CUSTOM_FIELD_NAME = re.compile(r"^[^\s.][^.]{0,99}$")

EventKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]+$", max_length=100)]


def check_column_target(target: str) -> str:
    if target in COLUMN_TARGETS:
        return target
    if target.startswith(CUSTOM_FIELD_PREFIX) and _CUSTOM_FIELD_NAME.match(target[len(CUSTOM_FIELD_PREFIX) :]):
        return target
    raise ValueError(f"unknown contact field {target!r}: use one of {', '.join(COLUMN_TARGETS)} or customFields.<name>")


class ImportOptions(Body):
    """How rows are applied: the bulk upsert's options (docs/bulk.md), plus `groupIdsExclude`."""

    tags: TagList = []
    groupIds: list[GroupId] = Field(default=[], max_length=100)
    # Every row's contact leaves these groups (a created contact simply does not join them).
    groupIdsExclude: list[GroupId] = Field(default=[], max_length=100)
    onDuplicate: Literal["update", "skip"] = "update"
    dedupeOn: Literal["email", "externalId"] = "email"
    restoreDeleted: bool = False
    eventKeyForNewContacts: EventKey | None = None

    @model_validator(mode="after")
    def _groups_do_not_overlap(self) -> ImportOptions:
        both = sorted(set(self.groupIds) & set(self.groupIdsExclude))
        if both:
            raise ValueError(f"a group cannot be both joined and left: {', '.join(both)}")
        return self


class ImportCreate(ImportOptions):
    format: ImportFormat = "csv"
    fileUrl: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    # File column (header) -> contact field; columns not named here are matched by their own name.
    columns: dict[Annotated[str, StringConstraints(min_length=1, max_length=255)], str] | None = Field(
        default=None, max_length=200
    )

    @field_validator("columns")
    @classmethod
    def _targets_are_fields(cls, columns: dict[str, str] | None) -> dict[str, str] | None:
        if columns is None:
            return None
        seen: dict[str, str] = {}
        for column, target in columns.items():
            check_column_target(target)
            if target in seen:
                raise ValueError(f"columns {seen[target]!r} and {column!r} both map to {target}")
            seen[target] = column
        return columns


class Failure(Model):
    code: str
    message: str


class Upload(Model):
    """An S3 presigned POST: send `fields` as multipart/form-data, then the file (last) as `file`."""

    url: str
    fields: dict[str, str]
    expiresAt: str


class Import(Model):
    id: str
    status: ImportStatus
    format: ImportFormat
    source: Literal["upload", "url", "bulk"]
    bytesTotal: int | None
    bytesProcessed: int
    rowsProcessed: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    errored: int
    createdAt: str
    startedAt: str | None
    finishedAt: str | None
    failure: Failure | None


class ImportStarted(Import):
    upload: Upload | None = None


class ImportList(Model):
    data: list[Import]
    nextCursor: str | None


class AsyncBulkAccepted(Model):
    importId: str
    status: ImportStatus


class PageQuery(Model):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None


class ImportRowError(Model):
    line: int
    email: str | None
    code: str
    message: str
    field: str | None = None
    column: str | None = None  # absent for NDJSON (and for a row that could not be read at all)

    @model_serializer(mode="wrap")
    def _column_only_when_known(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("column") is None:
            data.pop("column", None)
        return data


class ImportErrorPage(Model):
    data: list[ImportRowError]
    nextCursor: str | None


# The worker's queue messages (besides S3's own ObjectCreated notifications).


class ChunkMessage(Model):
    """Process the chunk of the file that starts at byte `offset` (a stale or repeated one is ignored)."""

    kind: Literal["chunk"] = "chunk"
    tenantId: str
    importId: str
    offset: int


class DownloadMessage(Model):
    """Fetch `fileUrl` into the imports bucket (its ObjectCreated notification then starts the import)."""

    kind: Literal["download"] = "download"
    tenantId: str
    importId: str
    fileUrl: str


ImportMessage = Annotated[ChunkMessage | DownloadMessage, Field(discriminator="kind")]


class S3ObjectRef(Model):
    key: str
    size: int | None = None


class S3Entity(Model):
    object: S3ObjectRef


class S3Record(Model):
    eventName: str
    s3: S3Entity


class S3Notification(Model):
    """The part of an S3 event notification the worker reads (S3's test event has no Records)."""

    Records: list[S3Record] = []
