"""Opaque page cursors bound to the tenant and to the listing they came from."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from chalicelib import errors, jsonbody


@dataclass(frozen=True)
class Position:
    """Where the next page starts, and optionally how the listing chose to read it (its `plan`).

    A plan only saves the next page work (search: "walk" skips sizing up the words again);
    it is client input like the rest, so a listing must answer correctly whatever plan it is handed.
    """

    after: str
    plan: str | None = None


def encode(tenant_id: str, listing: str, after: str, plan: str | None = None) -> str:
    data = {"t": tenant_id, "l": listing, "a": after}
    if plan is not None:
        data["p"] = plan
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, tenant_id: str, listing: str) -> str | None:
    """The position after which the page starts (see `decode_position`)."""
    position = decode_position(cursor, tenant_id, listing)
    return position.after if position else None


def decode_position(cursor: str | None, tenant_id: str, listing: str) -> Position | None:
    """The position after which the page starts; a garbled, foreign or mismatched cursor is a 400.

    The tenant in a cursor is only checked, never used: the partition read is
    always the caller's own, so a forged cursor cannot reach another tenant.
    A cursor is client input like a body: its JSON gets the same strict decoding.
    """
    if cursor is None:
        return None
    try:
        data = jsonbody.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        tenant, source, after, plan = data["t"], data["l"], data["a"], data.get("p")
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise errors.BadRequest("The cursor is not valid.") from None
    if tenant != tenant_id or source != listing or not isinstance(after, str) or not after:
        raise errors.BadRequest("The cursor is not valid for this listing.")
    if plan is not None and not isinstance(plan, str):
        raise errors.BadRequest("The cursor is not valid.")
    return Position(after, plan)
