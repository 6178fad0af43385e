"""Bodies and answers of API keys and tenants."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from chalicelib.schemas.common import Body, Model, Scope


class KeyCreate(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    scopes: Annotated[list[Scope], Field(min_length=1)]


class ApiKey(Model):
    id: str
    name: str
    scopes: list[str]
    prefix: str
    createdAt: str
    revokedAt: str | None = None


class ApiKeyCreated(ApiKey):
    key: str


class ApiKeyList(Model):
    data: list[ApiKey]


class TenantCreated(Model):
    tenantId: str
    apiKey: str
    scopes: list[Scope]
