"""Tenants, API keys and scope checks."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.repository import accounts
from chalicelib.repository.models import ApiKeyHashItem, ApiKeyItem
from chalicelib.schemas.auth import ApiKey, ApiKeyCreated, ApiKeyList, KeyCreate, TenantCreated
from chalicelib.schemas.common import ALL_SCOPES, Scope

KEY_PREFIX = "fli_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and key behind an authenticated request."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]


def hash_key(plaintext: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _new_key(tenant_id: str, name: str, scopes: list[Scope]) -> tuple[str, ApiKeyItem, ApiKeyHashItem]:
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    digest = hash_key(plaintext)
    item, lookup = accounts.new_key(
        tenant_id, key_id, digest, set(scopes), name=name, prefix=plaintext[:8], created_at=now_iso()
    )
    return plaintext, item, lookup


def _to_api_key(item: ApiKeyItem) -> ApiKey:
    return ApiKey(
        id=item.key_id,
        name=item.name,
        scopes=sorted(item.scopes),
        prefix=item.prefix,
        createdAt=item.created_at,
        revokedAt=item.revoked_at,
    )


def create_tenant(name: str) -> TenantCreated:
    tenant_id = "tnt_" + uuid.uuid4().hex
    plaintext, key, lookup = _new_key(tenant_id, "default", ALL_SCOPES)
    tenant = accounts.new_tenant(tenant_id, name, now_iso())
    accounts.create_tenant(tenant, key, lookup)
    return TenantCreated(tenantId=tenant_id, apiKey=plaintext, scopes=ALL_SCOPES)


def authenticate(plaintext: str | None) -> Principal:
    if not plaintext or not plaintext.startswith(KEY_PREFIX):
        raise errors.Unauthorized("A valid API key is required (X-Api-Key or Authorization: Bearer).")
    lookup = accounts.find_key_by_hash(hash_key(plaintext))
    if lookup is None:
        raise errors.Unauthorized("The API key is unknown or revoked.")
    return Principal(lookup.tenant_id, lookup.key_id, frozenset(lookup.scopes))


def require_scope(principal: Principal, scope: Scope) -> None:
    if scope not in principal.scopes:
        raise errors.Forbidden(f"This API key lacks the scope {scope}.")


def create_key(principal: Principal, body: KeyCreate) -> ApiKeyCreated:
    plaintext, item, lookup = _new_key(principal.tenant_id, body.name, sorted(set(body.scopes)))  # type: ignore[arg-type]
    accounts.add_key(item, lookup)
    return ApiKeyCreated(key=plaintext, **_to_api_key(item).model_dump())


def list_keys(principal: Principal) -> ApiKeyList:
    return ApiKeyList(data=[_to_api_key(item) for item in accounts.list_keys(principal.tenant_id)])


def revoke_key(principal: Principal, key_id: str) -> ApiKey:
    item = accounts.get_key(principal.tenant_id, key_id)
    if item is None:
        raise errors.NotFound("No such API key.")
    if item.revoked_at is None:
        item.revoked_at = now_iso()
        accounts.revoke_key(item)
    return _to_api_key(item)
