"""The local stack's moto Query patch answers exactly what unpatched moto answers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack import moto_query


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for name, range_type in (("strings", "S"), ("numbers", "N")):
            client.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": range_type},
                    {"AttributeName": "g", "AttributeType": "S"},
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "byG",
                        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
        rng = random.Random(7)
        for i in range(150):
            word = "".join(rng.choice("abc#é ") for _ in range(rng.randint(1, 6)))
            for name, value in (("strings", {"S": word + str(i)}), ("numbers", {"N": str(rng.randint(-500, 500))})):
                item = {
                    "pk": {"S": f"p{i % 3}"},
                    "sk": value,
                    "g": {"S": f"g{i % 2}"},
                    "v": {"N": str(i)},
                }
                client.put_item(TableName=name, Item=item)
        for i in range(60):  # over 1 MB in one partition: pages end by size, not only by Limit
            item = {"pk": {"S": "big"}, "sk": {"S": f"{i:03}"}, "g": {"S": "g2"}, "blob": {"S": "x" * 20_000}}
            client.put_item(TableName="strings", Item=item)
        yield client


def _queries() -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = []
    for forward in (True, False):
        for limit in (None, 4, 1000):
            base: dict[str, Any] = {"ScanIndexForward": forward}
            if limit:
                base["Limit"] = limit
            for pk in ("p0", "big", "missing"):
                values = {":pk": {"S": pk}}
                queries += [
                    {
                        **base,
                        "TableName": "strings",
                        "KeyConditionExpression": "pk = :pk",
                        "ExpressionAttributeValues": values,
                    },
                    {
                        **base,
                        "TableName": "strings",
                        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
                        "ExpressionAttributeValues": {**values, ":p": {"S": "a"}},
                    },
                    {
                        **base,
                        "TableName": "strings",
                        "KeyConditionExpression": "pk = :pk AND sk > :p",
                        "ExpressionAttributeValues": {**values, ":p": {"S": "b"}, ":v": {"N": "100"}},
                        "FilterExpression": "v > :v",
                        "ProjectionExpression": "sk, v",
                    },
                    {
                        **base,
                        "TableName": "numbers",
                        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
                        "ExpressionAttributeValues": {**values, ":lo": {"N": "-20"}, ":hi": {"N": "300"}},
                    },
                    {
                        **base,
                        "TableName": "numbers",
                        "KeyConditionExpression": "pk = :pk",
                        "ExpressionAttributeValues": values,
                    },
                ]
            queries.append(
                {
                    **base,
                    "TableName": "strings",
                    "IndexName": "byG",
                    "KeyConditionExpression": "g = :g",
                    "ExpressionAttributeValues": {":g": {"S": "g1"}},
                }
            )
    return queries


def _all_pages(client: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    request = dict(query)
    for _ in range(500):
        answer = client.query(**request)
        answer.pop("ResponseMetadata")
        pages.append(answer)
        if "LastEvaluatedKey" not in answer:
            return pages
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    raise AssertionError("pagination did not end")


def test_patched_query_answers_like_unpatched_moto_page_by_page(dynamodb: Any) -> None:
    queries = _queries()
    unpatched = [_all_pages(dynamodb, q) for q in queries]
    moto_query.install()
    try:
        patched = [_all_pages(dynamodb, q) for q in queries]
    finally:
        moto_query.uninstall()
    for query, expected, got in zip(queries, unpatched, patched, strict=True):
        assert got == expected, query
    assert any(len(pages) > 1 for pages in unpatched)  # pages ended by Limit and by the 1 MB size are compared
