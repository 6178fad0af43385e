"""End-to-end tests: real HTTP against `python -m devstack` started once per session on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import HttpCaller, Stack, create_tenant, start_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    running = start_stack()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def acme(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, "Acme")["apiKey"])


@pytest.fixture(scope="session")
def globex(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, "Globex")["apiKey"])
