"""Test-wide environment: fake credentials and the dev stage's settings, set before `app` is imported."""

from __future__ import annotations

import os

from devstack.resources import stage_environment

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
for name, value in stage_environment("dev").items():
    os.environ.setdefault(name, value)
