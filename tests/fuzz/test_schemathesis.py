"""Schemathesis against the local stack over HTTP: no 5xx, only documented statuses, answers that fit the schema.

The cases are generated from the document the app builds in-process, which is the document the
stack serves (the first test checks that); loading it from the stack at collection time would need
schemathesis' lazy fixture loader, which does not work with this pytest. It runs on a stack of its
own, so the data it makes up (webhooks to random hosts, thousands of contacts) never reaches the
session stack other e2e tests share. The budget is bounded and the seed fixed (derandomize), so a
run takes about the same time and finds the same things each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import app as application
from chalicelib import openapi
from tests.stack import Stack, start_stack

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_stack() -> Iterator[Stack]:
    running = start_stack()
    yield running
    running.stop()


DOCUMENT = openapi.build(application.app, application.api)
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_stack_serves_the_document_the_cases_come_from(fuzzed_stack: Stack) -> None:
    served = requests.get(fuzzed_stack.api + "/api/openapi.json", timeout=30).json()
    assert served.pop("servers") == [{"url": fuzzed_stack.api}]
    assert served == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(case: Any, fuzzed_stack: Stack) -> None:
    case.call_and_validate(
        base_url=fuzzed_stack.api, headers={"X-Api-Key": fuzzed_stack.api_key}, checks=CHECKS, timeout=30
    )
