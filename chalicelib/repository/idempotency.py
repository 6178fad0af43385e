"""Idempotency records: claimed with a conditional write, so two racing requests cannot both run."""

from __future__ import annotations

from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.conditional import save_if
from chalicelib.repository.models import IdempotencyItem


def _sk(key: str) -> str:
    return f"IDEMPOTENCY#{key}"


def claim(tenant_id: str, key: str, fingerprint: str, now: int, ttl_seconds: int) -> IdempotencyItem | None:
    """Claim the key for a new request; answer None on success, else the live record that holds it.

    An expired record counts as free: TTL deletes lazily, so the expiry is compared here.
    """
    item = IdempotencyItem(
        tenant_pk(tenant_id), _sk(key), fingerprint=fingerprint, state="in_progress", expires_at=now + ttl_seconds
    )
    if save_if(item, IdempotencyItem.pk.does_not_exist() | (IdempotencyItem.expires_at < now)):
        return None
    try:
        return IdempotencyItem.get(tenant_pk(tenant_id), _sk(key), consistent_read=True)
    except IdempotencyItem.DoesNotExist:  # expired and removed in between: claim again
        return claim(tenant_id, key, fingerprint, now, ttl_seconds)


def complete(tenant_id: str, key: str, status: int, body: str) -> None:
    IdempotencyItem(tenant_pk(tenant_id), _sk(key)).update(
        actions=[
            IdempotencyItem.state.set("done"),
            IdempotencyItem.response_status.set(status),
            IdempotencyItem.response_body.set(body),
        ]
    )


def release(tenant_id: str, key: str) -> None:
    """Forget a claim whose request failed, so that the client may retry with the same key."""
    IdempotencyItem(tenant_pk(tenant_id), _sk(key)).delete()
