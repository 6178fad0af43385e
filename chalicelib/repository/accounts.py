"""Tenants and their API keys in the meta table."""

from __future__ import annotations

from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.repository.contacts import _connection
from chalicelib.repository.models import ApiKeyHashItem, ApiKeyItem, TenantItem


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def key_hash_pk(key_hash: str) -> str:
    return f"KEYHASH#{key_hash}"


def new_tenant(tenant_id: str, name: str, created_at: str) -> TenantItem:
    return TenantItem(tenant_pk(tenant_id), "TENANT", name=name, created_at=created_at)


def new_key(
    tenant_id: str, key_id: str, key_hash: str, scopes: set[str], **attributes: Any
) -> tuple[ApiKeyItem, ApiKeyHashItem]:
    """A key's record under its tenant and its lookup by hash, not yet stored."""
    item = ApiKeyItem(
        tenant_pk(tenant_id), f"KEY#{key_id}", key_id=key_id, key_hash=key_hash, scopes=scopes, **attributes
    )
    lookup = ApiKeyHashItem(key_hash_pk(key_hash), "KEYHASH", tenant_id=tenant_id, key_id=key_id, scopes=scopes)
    return item, lookup


def create_tenant(tenant: TenantItem, key: ApiKeyItem, lookup: ApiKeyHashItem) -> None:
    with TransactWrite(connection=_connection()) as tx:
        tx.save(tenant, condition=TenantItem.pk.does_not_exist())
        tx.save(key, condition=ApiKeyItem.pk.does_not_exist())
        tx.save(lookup, condition=ApiKeyHashItem.pk.does_not_exist())


def add_key(key: ApiKeyItem, lookup: ApiKeyHashItem) -> None:
    with TransactWrite(connection=_connection()) as tx:
        tx.save(key, condition=ApiKeyItem.pk.does_not_exist())
        tx.save(lookup, condition=ApiKeyHashItem.pk.does_not_exist())


def find_key_by_hash(key_hash: str) -> ApiKeyHashItem | None:
    try:
        return ApiKeyHashItem.get(key_hash_pk(key_hash), "KEYHASH", consistent_read=True)
    except ApiKeyHashItem.DoesNotExist:
        return None


def get_key(tenant_id: str, key_id: str) -> ApiKeyItem | None:
    try:
        return ApiKeyItem.get(tenant_pk(tenant_id), f"KEY#{key_id}", consistent_read=True)
    except ApiKeyItem.DoesNotExist:
        return None


def list_keys(tenant_id: str) -> list[ApiKeyItem]:
    return list(ApiKeyItem.query(tenant_pk(tenant_id), ApiKeyItem.sk.startswith("KEY#"), consistent_read=True))


def revoke_key(key: ApiKeyItem) -> None:
    """Mark the key revoked and delete its hash lookup in one transaction: refused from the next request on."""
    with TransactWrite(connection=_connection()) as tx:
        tx.save(key)
        tx.delete(ApiKeyHashItem(key_hash_pk(key.key_hash), "KEYHASH"))


def tenant_ids() -> list[str]:
    """Every tenant's id (a Scan of the meta table: operator commands only, never a request path)."""
    prefix = tenant_pk("")
    return sorted(item.pk[len(prefix) :] for item in TenantItem.scan(TenantItem.sk == "TENANT"))
