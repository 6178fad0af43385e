"""Test-wide environment: fake credentials and the dev stage's settings, set before `app` is imported."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack import moto_patches
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
for name, value in stage_environment("dev").items():
    os.environ.setdefault(name, value)
moto_patches.install()  # as on the local stack: transactions copy each table once (devstack/moto_patches.py)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One `python -m devstack` on free ports for the whole session (e2e and browser tests share it)."""
    running = start_stack()
    yield running
    running.stop()
