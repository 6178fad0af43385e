"""End-to-end tests: real HTTP against `python -m devstack` started once per session on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import E2E_STACK_ARGS
from tests.stack import HttpCaller, Stack, create_tenant, start_stack


def tenant_caller(stack: Stack, name: str) -> HttpCaller:
    """A new tenant on `stack`, as a caller holding its first key."""
    return HttpCaller(stack.api, create_tenant(stack, name)["apiKey"])


@pytest.fixture(scope="session")
def acme(stack: Stack) -> HttpCaller:
    return tenant_caller(stack, "Acme")


@pytest.fixture(scope="session")
def globex(stack: Stack) -> HttpCaller:
    return tenant_caller(stack, "Globex")


def own_stack() -> Iterator[Stack]:
    """A stack of a module's own, for a module whose writes leave the relay a backlog of ~10,000 or more
    stream records. On the local stack the relay shares one process with moto and the API and works
    through ~100 records/s, so later modules' tests that wait for the index or totals would wait behind
    that backlog on the session's stack. Use as that module's module-scoped `stack` fixture.
    """
    running = start_stack(args=E2E_STACK_ARGS)
    yield running
    running.stop()
