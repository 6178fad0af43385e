"""The local stack's moto patch changes moto's cost only: transactions answer and roll back as before."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.settings import settings
from devstack import moto_patches

TABLE = settings.meta_table


def put(pk: str, condition: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": TABLE, "Item": {"pk": {"S": pk}, "sk": {"S": "s"}}}
    if condition:
        request["ConditionExpression"] = condition
    return {"Put": request}


def keys() -> set[str]:
    return {item["pk"]["S"] for item in boto3.client("dynamodb").scan(TableName=TABLE)["Items"]}


def test_a_cancelled_transaction_still_writes_nothing(aws: None) -> None:
    from moto.dynamodb import models

    moto_patches.install()
    assert isinstance(models.copy, moto_patches._CopyOncePerTable)
    dynamodb = boto3.client("dynamodb")
    dynamodb.transact_write_items(TransactItems=[put("taken")])
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[put("a"), put("b"), put("taken", "attribute_not_exists(pk)"), put("c")]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed", "None"]
    assert keys() == {"taken"}
    dynamodb.transact_write_items(TransactItems=[put("a"), put("b")])
    assert keys() == {"taken", "a", "b"}
