"""Functional tests: the Chalice app in-process (chalice.test.Client) on moto's in-memory AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.repository.aws import reset_clients
from chalicelib.services import auth, search_index
from devstack.atomic import make_dynamodb_writes_atomic
from devstack.resources import create_all
from tests.functional.stream import RelayPump


@pytest.fixture
def aws() -> Iterator[None]:
    make_dynamodb_writes_atomic()  # as on the local stack: atomic conditions, transactions that do not copy tables
    with mock_aws():
        reset_clients()
        create_all()
        yield
        reset_clients()


@pytest.fixture
def relay(aws: None) -> RelayPump:
    """The contacts stream's consumers, driven by the test: `relay.pump()` after writes."""
    return RelayPump()


@pytest.fixture
def client(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


@dataclass
class Caller:
    """A tenant's API key bound to the test client: `caller.post("/api/contacts", {...})`."""

    client: Client
    tenant_id: str
    key: str

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        sent = {"X-Api-Key": self.key, "Content-Type": "application/json", **(headers or {})}
        raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        return getattr(self.client.http, method.lower())(path, headers=sent, body=raw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("DELETE", path, body, **kw)

    def walk_pages(self, path: str) -> list[Any]:
        """Every item of a cursor-paged listing (`path` carries its query, e.g. "?limit=2"), in order."""
        items: list[Any] = []
        cursor = None
        while True:
            page = self.get(path + (f"&cursor={cursor}" if cursor else "")).json_body
            items.extend(page["data"])
            cursor = page["nextCursor"]
            if cursor is None:
                return items


def new_caller(client: Client, name: str) -> Caller:
    created = auth.create_tenant(name)
    return Caller(client, created.tenantId, created.apiKey)


@pytest.fixture
def acme(client: Client) -> Caller:
    return new_caller(client, "Acme")


@pytest.fixture
def globex(client: Client) -> Caller:
    return new_caller(client, "Globex")


@pytest.fixture
def index_pump(aws: None) -> Callable[[], int]:
    """`index_pump()` feeds what the contacts stream committed since the last call to the search index consumer.

    It stands in for the relay (which calls the same `apply_changes`); answers how many changes it applied.
    """
    from tests.functional.stream import ContactStream

    stream = ContactStream()

    def pump() -> int:
        applied = 0
        while changes := stream.changes():  # a read answers at most 1,000 records a shard
            search_index.apply_changes(changes)
            applied += len(changes)
        return applied

    return pump
