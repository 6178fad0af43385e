"""Rate-limit windows and double opt-in tokens in the meta table (TTL items, expiry compared on read)."""

from __future__ import annotations

from chalicelib.repository.conditional import save_if
from chalicelib.repository.models import ConfirmationItem, RateLimitItem

RATE_SK = "RATE"
CONFIRM_SK = "CONFIRM"


def claim_window(key: str, now: int, seconds: int) -> int | None:
    """Open a window of `seconds` for `key`; None when it opened, else the seconds until the current one ends.

    One conditional write: of any number of simultaneous claims exactly one succeeds.
    An expired window counts as free (TTL deletes lazily).
    """
    window = RateLimitItem(f"RATE#{key}", RATE_SK, expires_at=now + seconds)
    if save_if(window, RateLimitItem.pk.does_not_exist() | (RateLimitItem.expires_at <= now)):
        return None
    try:
        current = RateLimitItem.get(f"RATE#{key}", RATE_SK, consistent_read=True)
    except RateLimitItem.DoesNotExist:
        return 1
    return max(1, int(current.expires_at) - now)


def save_confirmation(token_hash: str, tenant_id: str, contact_id: str, group_id: str, expires_at: int) -> None:
    ConfirmationItem(
        f"CONFIRM#{token_hash}",
        CONFIRM_SK,
        tenant_id=tenant_id,
        contact_id=contact_id,
        group_id=group_id,
        expires_at=expires_at,
    ).save()


def find_confirmation(token_hash: str, now: int) -> ConfirmationItem | None:
    try:
        found = ConfirmationItem.get(f"CONFIRM#{token_hash}", CONFIRM_SK, consistent_read=True)
    except ConfirmationItem.DoesNotExist:
        return None
    return found if int(found.expires_at) > now else None
