"""Import jobs and their row errors (meta table), and the import files in S3 (ranged reads, presigned POST).

A chunk moves a job forward in two conditional writes (docs/imports.md):
`claim_chunk` records the chunk in flight (`pending`: its end and counts) only if
the job still stands at the chunk's start with nothing pending; `commit_chunk`
advances the offset and adds the counts only if that same chunk is still pending.
So a repeated SQS message or a second worker never counts a chunk twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.aws import client
from chalicelib.repository.batch import Deadline, batch_write
from chalicelib.repository.conditional import update_if
from chalicelib.repository.models import ImportErrorItem, ImportItem
from chalicelib.repository.paging import page_of
from chalicelib.settings import settings

log = logging.getLogger(__name__)

IMPORT_PREFIX = "IMPORT#"
ERROR_PREFIX = "ERR#"
READ_WINDOW = 8 * 1024 * 1024
MULTIPART_PART = 16 * 1024 * 1024


def import_sk(import_id: str) -> str:
    return IMPORT_PREFIX + import_id


def errors_pk(tenant_id: str, import_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#IMPORT#{import_id}"


def error_sk(line: int) -> str:
    return f"{ERROR_PREFIX}{line:012d}"


def file_key(tenant_id: str, import_id: str) -> str:
    """Where an import's file lands: the bucket notifies the queue for keys under uploads/."""
    return f"uploads/{tenant_id}/{import_id}"


def data_key(tenant_id: str, import_id: str) -> str:
    """Where a gzip file's decompressed bytes go (outside uploads/: it starts nothing)."""
    return f"data/{tenant_id}/{import_id}"


def parse_file_key(key: str) -> tuple[str, str] | None:
    """(tenant, import) of an uploaded file's key as S3 notifications give it (URL-encoded)."""
    parts = unquote_plus(key).split("/")
    if len(parts) != 3 or parts[0] != "uploads":
        return None
    return parts[1], parts[2]


# Jobs


def create(item: ImportItem) -> None:
    item.save(condition=ImportItem.pk.does_not_exist())


def get(tenant_id: str, import_id: str) -> ImportItem | None:
    try:
        return ImportItem.get(tenant_pk(tenant_id), import_sk(import_id), consistent_read=True)
    except ImportItem.DoesNotExist:
        return None


def page(tenant_id: str, limit: int, after_sk: str | None) -> tuple[list[ImportItem], str | None]:
    """Up to `limit` imports, newest first, and the sort key to continue after (or None)."""
    pk = tenant_pk(tenant_id)
    return page_of(ImportItem, pk, IMPORT_PREFIX, limit, after_sk, newest_first=True)


def _update(item: ImportItem, actions: list[Action], condition: Condition) -> bool:
    """One conditional UpdateItem; False when the condition did not hold (the item is then re-read)."""
    if update_if(item, actions, condition):
        return True
    item.refresh(consistent_read=True)
    return False


def set_status(item: ImportItem, status: str, expected: Iterable[str], **fields: Any) -> bool:
    """Move the job to `status` (with other attributes) if its status is one of `expected`."""
    actions: list[Action] = [ImportItem.status.set(status)]
    for name, value in fields.items():
        attribute = getattr(ImportItem, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return _update(item, actions, ImportItem.status.is_in(*expected))


def request_cancel(item: ImportItem, now: str) -> bool:
    """Ask the worker to stop at the next chunk boundary (a job that ended is left alone)."""
    return _update(
        item,
        [ImportItem.cancel_requested.set(True), ImportItem.updated_at.set(now)],
        ImportItem.status.is_in("processing"),
    )


def claim_chunk(item: ImportItem, start: int, pending: dict[str, Any], now: str) -> bool:
    """Record the chunk starting at `start` as in flight, unless another run claimed or finished it."""
    actions: list[Action] = [ImportItem.pending.set(pending), ImportItem.updated_at.set(now)]
    return _update(
        item,
        actions,
        (ImportItem.offset == start) & ImportItem.pending.does_not_exist() & ImportItem.status.is_in("processing"),
    )


def commit_chunk(item: ImportItem, start: int, counts: dict[str, int], **fields: Any) -> bool:
    """Advance past the pending chunk that starts at `start`: add its counts, clear `pending`, set `fields`."""
    actions: list[Action] = [ImportItem.pending.remove(), ImportItem.chunks.add(1)]
    for name, value in counts.items():
        actions.append(getattr(ImportItem, name).add(value))
    for name, value in fields.items():
        actions.append(getattr(ImportItem, name).set(value))
    return _update(item, actions, (ImportItem.offset == start) & ImportItem.pending.exists())


# Row errors


def put_errors(items: list[ImportErrorItem], deadline: Deadline) -> None:
    """Store row errors (keyed by line, so writing them again is harmless)."""
    table = ImportErrorItem.Meta.table_name
    batch_write(((table, {"PutRequest": {"Item": item.serialize()}}) for item in items), deadline)


def page_errors(
    tenant_id: str, import_id: str, limit: int, after_sk: str | None
) -> tuple[list[ImportErrorItem], str | None]:
    pk = errors_pk(tenant_id, import_id)
    return page_of(ImportErrorItem, pk, ERROR_PREFIX, limit, after_sk)


# Files in S3


def presigned_post(key: str, max_bytes: int, expires_seconds: int) -> dict[str, Any]:
    """A browser-style upload for exactly `key`, at most `max_bytes` (S3 enforces the range; moto does not)."""
    answer: dict[str, Any] = client("s3").generate_presigned_post(
        Bucket=settings.imports_bucket,
        Key=key,
        Conditions=[["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_seconds,
    )
    return answer


def put_file(key: str, body: bytes) -> None:
    client("s3").put_object(Bucket=settings.imports_bucket, Key=key, Body=body)


def file_size(key: str) -> int | None:
    try:
        return int(client("s3").head_object(Bucket=settings.imports_bucket, Key=key)["ContentLength"])
    except Exception as error:
        if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def read_range(key: str, start: int, length: int) -> bytes:
    if length <= 0:
        return b""
    answer = client("s3").get_object(
        Bucket=settings.imports_bucket, Key=key, Range=f"bytes={start}-{start + length - 1}"
    )
    body: bytes = answer["Body"].read()
    return body


def read_from(key: str, start: int, size: int, window: int = READ_WINDOW) -> Iterator[bytes]:
    """The object's bytes from `start` to its end, one ranged GET per window, fetched only as consumed."""
    position = start
    while position < size:
        length = min(window, size - position)
        yield read_range(key, position, length)
        position += length


def upload_stream(key: str, chunks: Iterable[bytes], max_bytes: int) -> int:
    """Store a stream of bytes as one object (multipart, 16 MiB parts); answer its size.

    Raises `TooLarge` (and aborts the upload) as soon as more than `max_bytes` arrive.
    """
    s3 = client("s3")
    bucket = settings.imports_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts: list[dict[str, Any]] = []
    total = 0
    buffer = bytearray()
    try:
        for chunk in chunks:
            total += len(chunk)
            if total > max_bytes:
                raise TooLarge(total)
            buffer += chunk
            if len(buffer) >= MULTIPART_PART:
                parts.append(_upload_part(s3, bucket, key, upload_id, len(parts) + 1, bytes(buffer)))
                buffer.clear()
        if buffer or not parts:
            parts.append(_upload_part(s3, bucket, key, upload_id, len(parts) + 1, bytes(buffer)))
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception:
            log.exception("could not abort the multipart upload of %s", key)
        raise
    return total


def _upload_part(s3: Any, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
    answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
    return {"ETag": answer["ETag"], "PartNumber": number}


class TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"more than the limit: {size} bytes so far")
        self.size = size
