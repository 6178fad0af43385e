"""Test-wide environment: fake credentials and the dev stage's settings, set before `app` is imported."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack.resources import stage_environment
from tests.stack import Stack, start_stack

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
# botocore sends DynamoDB Streams calls to account-based hosts (<account>.streams-ddb...) that moto's
# in-process mock does not recognise; the regional endpoint is equivalent.
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
# Webhook retries one second apart, three attempts in all (production: docs/webhooks.md); the e2e stack inherits it.
os.environ.setdefault("WEBHOOK_RETRY_SCHEDULE", "1,1")
# Imports run in chunks of 5,000 rows (production: 10,000), so a 50,000-row file makes 10 chunks.
os.environ.setdefault("IMPORT_CHUNK_ROWS", "5000")
for name, value in stage_environment("dev").items():
    os.environ.setdefault(name, value)


# End-to-end tests check behaviour, not speed: on a slow or shared machine the API gets more than
# API Gateway's 29 s, so a bulk request is not cut short by the machine's load. The 29 s limit
# itself is tested with injected deadlines (tests/functional/test_bulk_faults.py) and measured by
# `make bench`, whose stack keeps it.
E2E_STACK_ARGS = ("--api-timeout", os.environ.get("E2E_API_TIMEOUT", "120"))


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One `python -m devstack` on free ports for the whole session (e2e and browser tests share it)."""
    running = start_stack(args=E2E_STACK_ARGS)
    yield running
    running.stop()
