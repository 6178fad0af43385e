"""Idempotency-Key semantics: replay a stored answer, refuse a reused key with another body."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chalicelib import errors
from chalicelib.clock import now_epoch
from chalicelib.repository import idempotency as repo

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255
# A meta item holds at most 400 KB; a larger answer (a bulk upsert with results) is not kept for replay.
MAX_STORED_BODY = 300_000


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def begin(tenant_id: str, key: str, request_fingerprint: str) -> StoredAnswer | None:
    """Claim `key` for this request, or answer the stored result of its first run.

    Raises Conflict when the key was used for a different request, or when the
    first request with it is still running.
    """
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise errors.BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.")
    held = repo.claim(tenant_id, key, request_fingerprint, now_epoch(), TTL_SECONDS)
    if held is None:
        return None
    if held.fingerprint != request_fingerprint:
        raise errors.Conflict("This Idempotency-Key was already used with a different request.")
    if held.state != "done" or held.response_status is None or held.response_body is None:
        raise errors.Conflict("A request with this Idempotency-Key is still in progress.")
    return StoredAnswer(int(held.response_status), held.response_body)


def finish(tenant_id: str, key: str, status: int, body: str) -> None:
    """Keep a successful answer for replay; forget the key after a failure (or for an answer too large to
    keep) so that a retry runs again."""
    if 200 <= status < 300 and len(body.encode()) <= MAX_STORED_BODY:
        repo.complete(tenant_id, key, status, body)
    else:
        repo.release(tenant_id, key)
