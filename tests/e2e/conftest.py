"""End-to-end tests: real HTTP against `python -m devstack` started once per session on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import E2E_STACK_ARGS
from tests.stack import HttpCaller, Stack, create_tenant, start_stack


@pytest.fixture(scope="session")
def acme(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, "Acme")["apiKey"])


@pytest.fixture(scope="session")
def globex(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, "Globex")["apiKey"])


def own_stack() -> Iterator[Stack]:
    """A stack of a module's own, for a module whose writes leave the relay a backlog of ~10,000 or more
    stream records. On the local stack the relay shares one process with moto and the API and works
    through ~100 records/s, so later modules' tests that wait for the index or totals would wait behind
    that backlog on the session's stack. Use as that module's module-scoped `stack` fixture.
    """
    running = start_stack(args=E2E_STACK_ARGS)
    yield running
    running.stop()
