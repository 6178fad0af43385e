"""End-to-end tests: real HTTP against `python -m devstack` started once per session on free ports."""

from __future__ import annotations

import pytest

from tests.stack import HttpCaller, Stack, create_tenant


@pytest.fixture(scope="session")
def acme(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, "Acme")["apiKey"])


@pytest.fixture(scope="session")
def globex(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, create_tenant(stack, "Globex")["apiKey"])
