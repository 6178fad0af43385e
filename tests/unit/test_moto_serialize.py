"""devstack/moto_serialize.py: moto's DynamoDB reads answered with json.dumps read exactly as moto's own serializer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_serialize

ITEMS: list[dict[str, Any]] = [
    {
        "pk": {"S": "p"},
        "sk": {"S": f"{n:03}"},
        "s": {"S": 'Zoë ✓ "quoted" \\ slash'},
        "n": {"N": str(Decimal("-12.5") * n)},
        "b": {"B": bytes([n, 0, 255, 10])},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x00\x01", b"\xff"]},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"BOOL": True}, {"NULL": True}, {"B": b"\x01"}]}}},
        "l": {"L": [{"M": {"k": {"SS": ["v"]}}}]},
        "t": {"BOOL": n % 2 == 0},
        "z": {"NULL": True},
    }
    for n in range(12)
]

READS: list[tuple[str, Callable[[Any], Any]]] = [
    (
        "query",
        lambda db: db.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
        ),
    ),
    (
        "query paged backwards with a projection",
        lambda db: db.query(
            TableName="t",
            KeyConditionExpression="pk = :p AND sk > :after",
            ExpressionAttributeValues={":p": {"S": "p"}, ":after": {"S": "002"}},
            ProjectionExpression="sk, b, #m",
            ExpressionAttributeNames={"#m": "m"},
            ScanIndexForward=False,
            Limit=4,
            ReturnConsumedCapacity="TOTAL",
        ),
    ),
    (
        "query count",
        lambda db: db.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            Select="COUNT",
            Limit=5,
        ),
    ),
    (
        "query of nothing",
        lambda db: db.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}}
        ),
    ),
    ("scan", lambda db: db.scan(TableName="t", Limit=7, ReturnConsumedCapacity="INDEXES")),
    ("get", lambda db: db.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "003"}}, ConsistentRead=True)),
    ("get of nothing", lambda db: db.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "none"}})),
    (
        "batch get",
        lambda db: db.batch_get_item(
            RequestItems={
                "t": {"Keys": [{"pk": {"S": "p"}, "sk": {"S": f"{n:03}"}} for n in (1, 5, 99)], "ConsistentRead": True}
            },
            ReturnConsumedCapacity="TOTAL",
        ),
    ),
]


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in ITEMS:
            db.put_item(TableName="t", Item=item)
        yield db
    moto_serialize.uninstall()


def answer(call: Callable[[Any], Any], db: Any, *, patched: bool) -> Any:
    (moto_serialize.install if patched else moto_serialize.uninstall)()
    parsed = call(db)
    parsed.pop("ResponseMetadata")
    return parsed


@pytest.mark.parametrize(("name", "call"), READS, ids=[name for name, _ in READS])
def test_a_read_answers_the_same_as_with_motos_serializer(dynamodb: Any, name: str, call: Any) -> None:
    assert answer(call, dynamodb, patched=True) == answer(call, dynamodb, patched=False)


def test_the_reads_return_every_attribute_type_intact(dynamodb: Any) -> None:
    moto_serialize.install()
    found = dynamodb.query(
        TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )["Items"]
    assert found == ITEMS


def test_errors_still_come_from_motos_serializer(dynamodb: Any) -> None:
    moto_serialize.install()
    with pytest.raises(ClientError) as caught:
        dynamodb.query(
            TableName="missing", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_reads_skip_motos_serializer(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> Any:
        raise AssertionError("moto's serializer was used")

    monkeypatch.setattr(moto_serialize, "_original_execute_result", refuse)
    moto_serialize.install()
    for _, call in READS:
        call(dynamodb)
