"""Opaque page cursors bound to the tenant and to the listing they came from."""

from __future__ import annotations

import base64
import binascii
import json

from chalicelib import errors, jsonbody


def encode(tenant_id: str, listing: str, after: str) -> str:
    raw = json.dumps({"t": tenant_id, "l": listing, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, tenant_id: str, listing: str) -> str | None:
    """The position after which the page starts; a garbled, foreign or mismatched cursor is a 400.

    The tenant in a cursor is only checked, never used: the partition read is
    always the caller's own, so a forged cursor cannot reach another tenant.
    A cursor is client input like a body: its JSON gets the same strict decoding.
    """
    if cursor is None:
        return None
    try:
        data = jsonbody.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        tenant, source, after = data["t"], data["l"], data["a"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.BadRequest("The cursor is not valid.") from None
    if tenant != tenant_id or source != listing or not isinstance(after, str) or not after:
        raise errors.BadRequest("The cursor is not valid for this listing.")
    return after
