"""The embedded AWS's transactions (devstack/atomic.py) back up only the items they touch: same answers, same rollbacks.

The counters and the changes feed write with transactions on tables that grow with every
change (docs/counters.md); moto's own backup copies whole tables, so the local stack and the
functional tests use the cheaper backup. A cancelled transaction must still leave neither
items nor stream records behind, or the relay would hand on changes that never happened.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.settings import settings
from devstack.atomic import make_dynamodb_writes_atomic
from tests.functional.stream import ContactStream

TABLE = settings.meta_table
TENANT = "t_atomic"


def put(pk: str, condition: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": TABLE, "Item": {"pk": {"S": pk}, "sk": {"S": "s"}}}
    if condition:
        request["ConditionExpression"] = condition
    return {"Put": request}


def put_contact(email: str) -> dict[str, Any]:
    item = {"tenantId": {"S": TENANT}, "email": {"S": email}}
    return {"Put": {"TableName": settings.contacts_table, "Item": item}}


def keys() -> set[str]:
    return {item["pk"]["S"] for item in boto3.client("dynamodb").scan(TableName=TABLE)["Items"]}


def emails() -> set[str]:
    items = boto3.client("dynamodb").scan(TableName=settings.contacts_table)["Items"]
    return {item["email"]["S"] for item in items if item["tenantId"]["S"] == TENANT}


def cancel(dynamodb: Any, items: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=items)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    return [reason["Code"] for reason in raised.value.response["CancellationReasons"]]


def test_a_cancelled_transaction_writes_nothing_and_a_later_one_writes(aws: None) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    assert getattr(DynamoDBBackend.transact_write_items, "_atomic", False)  # the aws fixture installed it
    make_dynamodb_writes_atomic()  # idempotent: installing twice changes nothing
    dynamodb = boto3.client("dynamodb")
    dynamodb.transact_write_items(TransactItems=[put("taken")])
    reasons = cancel(dynamodb, [put("a"), put("b"), put("taken", "attribute_not_exists(pk)"), put("c")])
    assert reasons == ["None", "None", "ConditionalCheckFailed", "None"]
    assert keys() == {"taken"}
    dynamodb.transact_write_items(TransactItems=[put("a"), put("b")])
    assert keys() == {"taken", "a", "b"}


def test_a_cancelled_transaction_leaves_no_stream_record(aws: None) -> None:
    stream = ContactStream()
    dynamodb = boto3.client("dynamodb")
    dynamodb.transact_write_items(TransactItems=[put("taken")])
    cancel(dynamodb, [put_contact("gone@example.com"), put("taken", "attribute_not_exists(pk)")])
    assert emails() == set()
    assert stream.records() == []
    dynamodb.transact_write_items(TransactItems=[put_contact("kept@example.com")])
    assert emails() == {"kept@example.com"}
    assert [record["dynamodb"]["Keys"]["email"]["S"] for record in stream.records()] == ["kept@example.com"]
