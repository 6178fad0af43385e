"""Imports from a file: start, list, read, cancel, and the worker that applies a file chunk by chunk.

How a file becomes contacts (docs/imports.md):
1. POST /api/imports creates the job and hands out an S3 presigned POST (or queues the
   download of `fileUrl`); the file's ObjectCreated notification reaches the imports queue.
2. The worker checks the file (size, gzip, header), then processes one chunk per message:
   it reads complete records from the saved byte offset with ranged GETs, validates
   them, and runs them through the bulk upsert engine (`bulk.upsert_rows`).
3. Before any row of a chunk is written, the chunk's decided counts and its row errors
   are recorded (`claim_chunk`, conditional on the job standing at the chunk's start);
   after the writes, `commit_chunk` advances the offset and adds the counts, conditional
   on that chunk still pending. A repeated message finds the chunk claimed or done; a run
   killed mid-chunk is redone from the claim (re-writing rows is harmless: an upsert), and
   counts what the first run decided. Then it enqueues the next chunk's message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from chalicelib import errors, observability
from chalicelib.clock import now_iso
from chalicelib.repository import imports as repo
from chalicelib.repository import queues
from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.batch import Deadline
from chalicelib.repository.models import ImportErrorItem, ImportItem
from chalicelib.schemas.bulk import MAX_BULK_ROWS, BulkRow, BulkUpsertBody
from chalicelib.schemas.events import ApiKeyActor, ImportEvent, ImportEventData, ImportEventType
from chalicelib.schemas.imports import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    TERMINAL,
    AsyncBulkAccepted,
    ChunkMessage,
    DownloadMessage,
    Failure,
    Import,
    ImportCreate,
    ImportErrorPage,
    ImportList,
    ImportMessage,
    ImportOptions,
    ImportRowError,
    ImportStarted,
    PageQuery,
    S3Notification,
    Upload,
)
from chalicelib.services import cursors, events
from chalicelib.services import file_download as download
from chalicelib.services.auth import Principal
from chalicelib.services.bulk import BulkOutcome, upsert_rows
from chalicelib.services.contacts import require_groups
from chalicelib.services.import_records import (
    ColumnMap,
    FileUnreadable,
    Position,
    Record,
    read_csv,
    read_csv_header,
    read_ndjson,
    sniff,
)
from chalicelib.services.ssrf import UnsafeUrl
from chalicelib.settings import settings

log = logging.getLogger(__name__)

UPLOAD_SECONDS = 3600
# Decompressed gzip files may be larger than the 1 GiB the stored file may have.
MAX_DECOMPRESSED_BYTES = 8 * MAX_FILE_BYTES
# Row errors kept per import (the `errored` count stays exact beyond it).
MAX_STORED_ERRORS = 100_000
# SQS gives up after this many receives (the queue's maxReceiveCount): the last one fails the import cleanly.
MAX_RECEIVES = 5
# The webhook event each finished status sends (a cancelled import sends none).
FINISH_EVENTS: dict[str, ImportEventType] = {"completed": "import.completed", "failed": "import.failed"}
# A chunk whose writes could not all land before the deadline is run again after this delay.
RETRY_DELAY_SECONDS = 5
# The worker's timeout: a job untouched for longer has no live worker (the queue's visibility timeout is longer).
STALL_SECONDS = 900
COUNTERS = ("created", "updated", "unchanged", "skipped", "errored")
ACTIVE = ("awaiting_upload", "queued", "processing")
_message_adapter: TypeAdapter[ImportMessage] = TypeAdapter(ImportMessage)
_INDEX_PREFIX = re.compile(r"^contacts\[\d+\]\.")


def new_import_id() -> str:
    """Time-ordered (newest first in a descending query) and unguessable."""
    return f"imp_{int(time.time() * 1000):012x}{secrets.token_hex(12)}"


def _iso_in(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def to_import(item: ImportItem) -> Import:
    bytes_total = int(item.bytes_total) if item.bytes_total is not None else None
    return Import(
        id=item.import_id,
        status=item.status,  # type: ignore[arg-type]
        format=item.format,  # type: ignore[arg-type]
        source=item.source,  # type: ignore[arg-type]
        bytesTotal=bytes_total,
        bytesProcessed=_bytes_processed(item, bytes_total),
        rowsProcessed=int(item.rows_processed or 0),
        created=int(item.created or 0),
        updated=int(item.updated or 0),
        unchanged=int(item.unchanged or 0),
        skipped=int(item.skipped or 0),
        errored=int(item.errored or 0),
        createdAt=item.created_at,
        startedAt=item.started_at,
        finishedAt=item.finished_at,
        failure=Failure(**item.failure) if item.failure else None,
    )


def _bytes_processed(item: ImportItem, bytes_total: int | None) -> int:
    """Bytes of the file as stored: for gzip, the decompressed offset scaled to the compressed size."""
    if bytes_total is None or not item.data_bytes:
        return 0
    if item.status == "completed":
        return bytes_total
    data_bytes = int(item.data_bytes)
    offset = min(int(item.offset or 0), data_bytes)
    return offset if data_bytes == bytes_total else (bytes_total * offset) // data_bytes


def _find(principal: Principal, import_id: str) -> ImportItem:
    item = repo.get(principal.tenant_id, import_id) if import_id.startswith("imp_") else None
    if item is None:
        raise errors.NotFound("No such import.")
    return item


def _new_item(principal: Principal, options: ImportOptions, *, format: str, source: str, status: str) -> ImportItem:
    import_id = new_import_id()
    now = now_iso()
    return ImportItem(
        tenant_pk(principal.tenant_id),
        repo.import_sk(import_id),
        import_id=import_id,
        status=status,
        format=format,
        source=source,
        options=options.model_dump(mode="json"),
        actor_key_id=principal.key_id,
        file_key=repo.file_key(principal.tenant_id, import_id),
        created_at=now,
        updated_at=now,
    )


# Routes


def start_import(principal: Principal, body: ImportCreate) -> ImportStarted:
    """Create the job; answer the upload form, or queue the download of fileUrl. 422s start nothing."""
    require_groups(principal, [*body.groupIds, *body.groupIdsExclude])
    if body.fileUrl is not None:
        try:
            download.check_file_url(body.fileUrl)
        except UnsafeUrl as refused:
            raise errors.ValidationFailed(
                "fileUrl may not be fetched.", details=[{"field": "fileUrl", "message": str(refused)}]
            ) from None
    options = ImportOptions.model_validate(body.model_dump(include=set(ImportOptions.model_fields)))
    item = _new_item(
        principal,
        options,
        format=body.format,
        source="url" if body.fileUrl else "upload",
        status="queued" if body.fileUrl else "awaiting_upload",
    )
    item.options = {**item.options, "columns": body.columns}
    repo.create(item)
    if body.fileUrl is not None:
        message = DownloadMessage(tenantId=principal.tenant_id, importId=item.import_id, fileUrl=body.fileUrl)
        queues.send(settings.imports_queue, [queues.OutgoingMessage(message.model_dump_json())])
        return ImportStarted(**to_import(item).model_dump())
    form = repo.presigned_post(item.file_key, MAX_FILE_BYTES, UPLOAD_SECONDS)
    upload = Upload(url=form["url"], fields=form["fields"], expiresAt=_iso_in(UPLOAD_SECONDS))
    return ImportStarted(**to_import(item).model_dump(), upload=upload)


def start_async_bulk(principal: Principal, body: BulkUpsertBody) -> AsyncBulkAccepted:
    """`Prefer: respond-async` on the bulk route: the rows go to S3 as NDJSON and run as an import."""
    if len(body.contacts) > MAX_BULK_ROWS:
        raise errors.PayloadTooLarge(
            f"At most {MAX_BULK_ROWS} rows per request; split larger imports or use POST /api/imports.",
            details=[{"field": "contacts", "message": f"{len(body.contacts)} rows sent"}],
        )
    for name in ("dryRun", "returnResults"):
        if getattr(body, name):
            raise errors.ValidationFailed(
                "Not available with Prefer: respond-async.",
                details=[{"field": name, "message": "send the request without Prefer: respond-async"}],
            )
    require_groups(principal, [*body.groupIds, *body.groupIdsExclude])
    options = ImportOptions.model_validate(body.model_dump(include=set(ImportOptions.model_fields)))
    item = _new_item(principal, options, format="ndjson", source="bulk", status="queued")
    repo.create(item)
    # One row per line: line n is the request's row n - 1, and each row is validated on its own.
    ndjson = "\n".join(json.dumps(row, separators=(",", ":"), ensure_ascii=False) for row in body.contacts)
    repo.put_file(item.file_key, ndjson.encode())
    return AsyncBulkAccepted(importId=item.import_id, status="queued")


def list_imports(principal: Principal, query: PageQuery) -> ImportList:
    after = cursors.decode(query.cursor, principal.tenant_id, "imports")
    items, last = repo.page(principal.tenant_id, query.limit, after)
    cursor = cursors.encode(principal.tenant_id, "imports", last) if last else None
    return ImportList(data=[to_import(item) for item in items], nextCursor=cursor)


def get_import(principal: Principal, import_id: str) -> Import:
    return to_import(_find(principal, import_id))


def list_errors(principal: Principal, import_id: str, query: PageQuery) -> ImportErrorPage:
    _find(principal, import_id)
    listing = f"import-errors:{import_id}"
    after = cursors.decode(query.cursor, principal.tenant_id, listing)
    items, last = repo.page_errors(principal.tenant_id, import_id, query.limit, after)
    data = [
        ImportRowError(line=int(e.line), email=e.email, code=e.code, message=e.message, field=e.field, column=e.column)
        for e in items
    ]
    cursor = cursors.encode(principal.tenant_id, listing, last) if last else None
    return ImportErrorPage(data=data, nextCursor=cursor)


def cancel_import(principal: Principal, import_id: str) -> Import:
    """Before processing: cancelled at once. While processing: at the next chunk boundary."""
    item = _find(principal, import_id)
    now = now_iso()
    expected = ("awaiting_upload", "queued")
    if item.status in expected and repo.set_status(item, "cancelled", expected, finished_at=now, updated_at=now):
        return to_import(item)
    if item.status == "processing":
        repo.request_cancel(item, now)
    return to_import(item)


# The worker


def work(body: str, receive_count: int = 1, remaining: Callable[[], float] | None = None) -> None:
    """Handle one message of the imports queue: an S3 notification, a chunk, or a download.

    Raising makes SQS deliver the message again (which every step tolerates); on the
    last delivery the import is failed instead, so that it never stays `processing`.
    A message naming an import that is already finished first sends its finish event again: it may be
    the redelivery of the message whose run committed the end but could not send the event (one GetItem).
    """
    try:
        _announce_if_finished(body)
        _dispatch(body, remaining)
    except Exception:
        if receive_count < MAX_RECEIVES:
            raise
        log.exception("import message failed %d times; failing its import: %.300s", receive_count, body)
        for tenant_id, import_id in _imports_named(body):
            item = repo.get(tenant_id, import_id)
            if item is not None and item.status not in TERMINAL:
                _fail(item, "internal", "The import stopped on an internal error.", tuple(ACTIVE))
            elif item is not None and item.status in FINISH_EVENTS:
                # Finished, but its event could not be sent: the message goes to the imports DLQ (raise),
                # where a replay sends it (docs/imports.md).
                raise


def _imports_named(body: str) -> list[tuple[str, str]]:
    try:
        message = _message_adapter.validate_json(body)
        return [(message.tenantId, message.importId)]
    except PydanticValidationError:
        pass
    try:
        notification = S3Notification.model_validate_json(body)
    except PydanticValidationError:
        return []
    return [named for record in notification.Records if (named := repo.parse_file_key(record.s3.object.key))]


def _dispatch(body: str, remaining: Callable[[], float] | None) -> None:
    try:
        message = _message_adapter.validate_json(body)
    except PydanticValidationError:
        message = None
    if isinstance(message, ChunkMessage):
        item = repo.get(message.tenantId, message.importId)
        if item is not None:
            run_chunk(item, message.offset, remaining)
        return
    if isinstance(message, DownloadMessage):
        _download(message)
        return
    try:
        notification = S3Notification.model_validate_json(body)
    except PydanticValidationError:
        log.warning("ignoring a message the import worker does not know: %.300s", body)
        return
    for record in notification.Records:
        named = repo.parse_file_key(record.s3.object.key)
        if record.eventName.startswith("ObjectCreated") and named is not None:
            item = repo.get(*named)
            if item is None:
                log.warning("no import for the uploaded file %s", record.s3.object.key)
                continue
            if _start_processing(item):
                run_chunk(item, int(item.offset or 0), remaining)
            elif item.status == "processing":
                # A repeated notification, or the run that started processing died before its first chunk.
                run_chunk(item, int(item.offset or 0) if not item.chunks else -1, remaining)


def _download(message: DownloadMessage) -> None:
    item = repo.get(message.tenantId, message.importId)
    if item is None or item.status != "queued":
        return
    try:
        download.download_to(message.fileUrl, item.file_key, MAX_FILE_BYTES)
    except download.DownloadFailed as failed:
        _fail(item, failed.code, failed.message, expected=("queued",))
    # The stored file's ObjectCreated notification starts the import.


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip (or zlib) header, auto-detected
    for chunk in chunks:
        data = inflater.decompress(chunk)
        while inflater.unused_data:  # a gzip file may hold several members (e.g. `cat a.gz b.gz`)
            rest = inflater.unused_data
            inflater = zlib.decompressobj(wbits=47)
            data += inflater.decompress(rest)
        if data:
            yield data
    tail = inflater.flush()
    if tail:
        yield tail
    if not inflater.eof:
        raise zlib.error("the gzip stream ends early")


def _start_processing(item: ImportItem) -> bool:
    """The file has arrived: check it, read the CSV header, and move the job to `processing`."""
    if item.status not in ("awaiting_upload", "queued"):
        return False  # a repeated notification, or cancelled before the upload
    size = repo.file_size(item.file_key)
    if size is None:
        return False
    expected = ("awaiting_upload", "queued")
    if size > MAX_FILE_BYTES:
        # S3 enforces the presigned POST's content-length-range; moto does not, so check here too.
        return _fail(item, "too_large", f"The file has {size} bytes; at most {MAX_FILE_BYTES} are accepted.", expected)
    kind = sniff(repo.read_range(item.file_key, 0, min(size, 4)))
    name = "CSV" if item.format == "csv" else "NDJSON"
    if kind == "zip":
        return _fail(item, f"not_{item.format}", f"The file is a ZIP archive (a spreadsheet?), not {name}.", expected)
    data_key, data_bytes = item.file_key, size
    if kind == "gzip":
        data_key = repo.data_key(*_ids(item))
        try:
            data_bytes = repo.upload_stream(
                data_key, _gunzip(repo.read_from(item.file_key, 0, size)), MAX_DECOMPRESSED_BYTES
            )
        except zlib.error as error:
            return _fail(
                item, "invalid_gzip", f"The file looks like gzip but cannot be decompressed: {error}", expected
            )
        except repo.TooLarge:
            return _fail(item, "too_large", "The decompressed file exceeds 8 GiB.", expected)
    header = None
    start = Position(0, 0)
    if item.format == "csv":
        try:
            read = read_csv_header(repo.read_from(data_key, 0, data_bytes))
            ColumnMap.build(read.columns, item.options.get("columns"), item.options.get("dedupeOn", "email"))
        except FileUnreadable as unreadable:
            return _fail(item, unreadable.code, unreadable.message, expected)
        header = {"delimiter": read.delimiter, "columns": read.columns}
        start = read.end
    elif size == 0:
        return _fail(item, "empty_file", "The file is empty.", expected)
    now = now_iso()
    return repo.set_status(
        item,
        "processing",
        expected,
        bytes_total=size,
        data_key=data_key,
        data_bytes=data_bytes,
        header=header,
        offset=start.offset,
        lines=start.lines,
        started_at=now,
        updated_at=now,
    )


def _ids(item: ImportItem) -> tuple[str, str]:
    return item.pk.removeprefix("TENANT#"), item.import_id


def _fail(item: ImportItem, code: str, message: str, expected: Iterable[str] = ("processing",)) -> bool:
    now = now_iso()
    failure = {"code": code, "message": message}
    if repo.set_status(item, "failed", expected, failure=failure, pending=None, finished_at=now, updated_at=now):
        _announce(item, "import.failed")
    return False


def _announce(item: ImportItem, type: ImportEventType) -> None:
    """The import's end, to the tenant's webhooks (the one place import events are sent).

    Called only once the job's final state is committed. There is no outbox: the event id is
    deterministic (`import_event_id`), `events.send` raises when SQS refuses, and the raise makes the
    imports queue deliver the worker's message again; a redelivered message for a finished job sends
    the event again (`work`), and webhook delivery dedupes by event id per endpoint.
    """
    data = ImportEventData(**to_import(item).model_dump(), actor=ApiKeyActor(apiKeyId=item.actor_key_id))
    event = ImportEvent(
        id=import_event_id(item.import_id, type, item.finished_at),
        type=type,
        createdAt=item.finished_at or now_iso(),
        tenantId=_ids(item)[0],
        data=data,
    )
    events.send([event])


def import_event_id(import_id: str, type: ImportEventType, finished_at: str | None) -> str:
    """Deterministic from the import and its final status (a job finishes once), time-ordered like contact
    events: `evt_`, 12 hex digits of the finish's milliseconds, 40 hex digits of a hash of id and type."""
    ms = 0
    if finished_at:
        ms = int(datetime.strptime(finished_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() * 1000)
    digest = hashlib.sha256(f"{import_id}|{type}".encode()).hexdigest()[:40]
    return f"evt_{ms:012x}{digest}"


def _announce_if_finished(body: str) -> None:
    """The run that finished an import may have died (or SQS refused the event) between committing the
    final state and sending the event; its message comes back: send the event again (same id)."""
    for tenant_id, import_id in _imports_named(body):
        item = repo.get(tenant_id, import_id)
        if item is not None and item.status in FINISH_EVENTS:
            _announce(item, FINISH_EVENTS[item.status])


@dataclass
class Chunk:
    """The rows of one chunk as the engine takes them, with what the import needs to report them."""

    rows: list[BulkRow | None] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    emails: list[str | None] = field(default_factory=list)
    errors: list[ImportErrorItem] = field(default_factory=list)  # rows refused before the engine
    end: Position = field(default_factory=lambda: Position(0, 0))


def _records(item: ImportItem, start: Position) -> Iterator[Record]:
    chunks = repo.read_from(item.data_key or item.file_key, start.offset, int(item.data_bytes or 0))
    if item.format == "csv":
        return read_csv(chunks, start, item.header["delimiter"])
    return read_ndjson(chunks, start)


def _read_chunk(item: ImportItem, start: Position, stop: Callable[[Record, int], bool]) -> Chunk:
    """Records from `start` until `stop(record, rows so far)` says the record belongs to the next chunk."""
    tenant_id, import_id = _ids(item)
    columns = (
        ColumnMap.build(item.header["columns"], item.options.get("columns"), item.options.get("dedupeOn", "email"))
        if item.format == "csv"
        else None
    )
    chunk = Chunk(end=start)

    def refuse(line: int, email: Any, message: str, field_: str | None) -> None:
        column = columns.column_of.get(field_ or "") if columns is not None else None
        chunk.errors.append(
            ImportErrorItem(
                repo.errors_pk(tenant_id, import_id),
                repo.error_sk(line),
                line=line,
                email=email if isinstance(email, str) else None,
                code="validation_error",
                message=message,
                field=field_,
                column=column,
            )
        )
        chunk.rows.append(None)
        chunk.lines.append(line)
        chunk.emails.append(email if isinstance(email, str) else None)

    for record in _records(item, start):
        if stop(record, len(chunk.rows)):
            break
        chunk.end = record.end
        if record.error is not None:
            refuse(record.line, None, record.error, None)
            continue
        if columns is not None:
            raw, problem = columns.row(record.values)
            if raw is None:
                refuse(record.line, None, problem or "not a valid row", None)
                continue
        else:
            raw = record.values
            if not isinstance(raw, dict):
                refuse(record.line, None, "the line is not a JSON object", None)
                continue
        try:
            row = BulkRow.model_validate(raw)
        except PydanticValidationError as error:
            first = error.errors()[0]
            field_ = str(first["loc"][0]) if first["loc"] else None
            messages = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in error.errors()
            )
            refuse(record.line, raw.get("email"), messages, field_)
            continue
        chunk.rows.append(row)
        chunk.lines.append(record.line)
        chunk.emails.append(raw.get("email") if isinstance(raw.get("email"), str) else row.email)
    else:
        # The file is read to its end (trailing blank lines included): the chunk ends with it.
        chunk.end = Position(int(item.data_bytes or 0), chunk.end.lines)
    return chunk


def _engine_error_field(message: str) -> str:
    for name in ("externalId", "tags", "customFields"):
        if name in message:
            return name
    return "email"


def _decide(item: ImportItem, chunk: Chunk, outcome: BulkOutcome) -> tuple[dict[str, int], list[ImportErrorItem]]:
    """The chunk's counts and all its row errors (refused rows and the engine's), in file order."""
    tenant_id, import_id = _ids(item)
    counts = dict.fromkeys(COUNTERS, 0)
    counts["errored"] = len(chunk.errors)
    found = list(chunk.errors)
    columns = item.header["columns"] if item.header else None
    column_map = (
        ColumnMap.build(columns, item.options.get("columns"), item.options.get("dedupeOn", "email"))
        if columns
        else None
    )
    for row in outcome.rows:
        if row.action != "error":
            counts[row.action] += 1
            continue
        counts["errored"] += 1
        message = _INDEX_PREFIX.sub("", row.message or "")
        field_ = _engine_error_field(message)
        line = chunk.lines[row.index]
        found.append(
            ImportErrorItem(
                repo.errors_pk(tenant_id, import_id),
                repo.error_sk(line),
                line=line,
                email=chunk.emails[row.index],
                code=row.code or "validation_error",
                message=message,
                field=field_,
                column=column_map.column_of.get(field_) if column_map else None,
            )
        )
    found.sort(key=lambda e: int(e.line))
    return counts, found


class ChunkTaken(Exception):
    """Another run claimed or finished this chunk first."""


def _bulk_options(item: ImportItem) -> BulkUpsertBody:
    options = {k: v for k, v in item.options.items() if k != "columns"}
    return BulkUpsertBody(contacts=[], **options)


def run_chunk(item: ImportItem, start: int, remaining: Callable[[], float] | None = None) -> None:
    """Process the chunk at byte `start` if the job stands there; then enqueue the next one or finish."""
    if item.status != "processing" or int(item.offset or 0) != start:
        # A stale or repeated message: that chunk is done (or the import ended). If the job has not moved
        # for longer than a worker can live, the run that committed the last chunk died before sending the
        # next message (this message came back after the visibility timeout): send it now.
        if item.status == "processing" and _idle_seconds(item) > STALL_SECONDS:
            log.warning("import %s stalled at offset %s; sending its next chunk again", item.import_id, item.offset)
            _send(ChunkMessage(tenantId=_ids(item)[0], importId=item.import_id, offset=int(item.offset or 0)))
        return
    pending = item.pending
    if pending is None and item.cancel_requested:
        _finish(item, "cancelled", start)
        return
    if pending is None and start >= int(item.data_bytes or 0):
        _finish(item, "completed", start)
        return
    if pending is None and int(item.rows_processed or 0) >= MAX_ROWS:
        _fail(item, "too_many_rows", f"The file has more than {MAX_ROWS} rows; the first {MAX_ROWS} were imported.")
        return
    position = Position(start, int(item.lines or 0))
    limit = settings.import_chunk_rows
    if pending is not None:
        end = int(pending["end"])
        chunk = _read_chunk(item, position, lambda record, _: record.end.offset > end)
    else:
        chunk = _read_chunk(item, position, lambda _, rows: rows >= limit)
    tenant_id, _ = _ids(item)
    principal = Principal(tenant_id, item.actor_key_id, frozenset())
    deadline = Deadline(remaining, reserve=30.0)

    def claim(outcome: BulkOutcome) -> None:
        if pending is not None:
            return  # a re-run: the first run's counts and errors stand
        counts, found = _decide(item, chunk, outcome)
        room = max(0, MAX_STORED_ERRORS - int(item.errored or 0))
        repo.put_errors(found[:room], deadline)
        claimed = {"start": start, "end": chunk.end.offset, "lines": chunk.end.lines, "counts": counts}
        if not repo.claim_chunk(item, start, claimed, now_iso()):
            raise ChunkTaken

    try:
        outcome = upsert_rows(
            principal,
            _bulk_options(item),
            chunk.rows,
            remaining,
            source=f"import:{item.import_id}",
            origin="import",
            before_write=claim,
        )
    except ChunkTaken:
        log.info("chunk at %d of %s was taken by another run", start, item.import_id)
        return
    if any(row.action == "error" and row.code == "unprocessed" for row in outcome.rows):
        # Not every write landed before the deadline: run the same chunk again (its claim stands).
        _send(ChunkMessage(tenantId=tenant_id, importId=item.import_id, offset=start), RETRY_DELAY_SECONDS)
        return
    observability.count("ImportRows", len(chunk.rows))
    _commit(item, start)


def _idle_seconds(item: ImportItem) -> float:
    updated = datetime.strptime(item.updated_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - updated).total_seconds()


def _commit(item: ImportItem, start: int) -> None:
    pending = item.pending
    assert pending is not None
    counts = {name: int(value) for name, value in pending["counts"].items()}
    end = int(pending["end"])
    done = end >= int(item.data_bytes or 0)
    now = now_iso()
    fields: dict[str, Any] = {"offset": end, "lines": int(pending["lines"]), "updated_at": now}
    status = "completed" if done else "cancelled" if item.cancel_requested else None
    if status:
        fields.update(status=status, finished_at=now)
    totals = {**counts, "rows_processed": sum(counts.values())}
    if not repo.commit_chunk(item, start, totals, **fields):
        return  # another run committed it
    tenant_id, _ = _ids(item)
    if status == "completed":
        _announce(item, "import.completed")
    elif status is None:
        _send(ChunkMessage(tenantId=tenant_id, importId=item.import_id, offset=end))


def _finish(item: ImportItem, status: str, start: int) -> None:
    now = now_iso()
    if repo.set_status(item, status, ("processing",), finished_at=now, updated_at=now) and status == "completed":
        _announce(item, "import.completed")


def _send(message: ChunkMessage, delay: int = 0) -> None:
    queues.send(settings.imports_queue, [queues.OutgoingMessage(message.model_dump_json(), delay)])
