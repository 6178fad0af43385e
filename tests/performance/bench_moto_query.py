"""`python -m tests.performance.bench_moto_query`: one Query on a big partition, in-process moto.

Not a pytest test: prints one JSON line. Times the Queries a first page of the local stack makes
(docs/search.md, "Local stack and moto") on a partition of BENCH_PARTITION items (default 200,000),
with devstack/moto_query.py installed, through boto3 on mock_aws (no HTTP): the listing by email,
one createdAt shard after a cursor, the whole-address search's begins_with in a word bucket, and a
broad word's postings probe (5,001 items: what moto costs per item returned).
Medians of BENCH_REPEAT (default 5) calls, milliseconds; the first call is reported apart
(it may build the partition's sorted keys).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from devstack import moto_query

COUNT = int(os.environ.get("BENCH_PARTITION", "200000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))


def seed(count: int) -> None:
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table("bench")
    for i in range(count):
        # What moto's put_item stores, without its checks (as tests/performance/bench_search.py seeds).
        raw = {
            "pk": {"S": "t#1"},
            "sk": {"S": f"person{i:07}@example.com"},
            "id": {"S": f"{i:032x}"},
            "email": {"S": f"person{i:07}@example.com"},
            "c": {"S": "2026-11-28T10:00:00.000000Z"},
        }
        hash_value, range_value = DynamoType(raw["pk"]), DynamoType(raw["sk"])
        item = Item(hash_value, range_value, {})
        dict.update(item.attrs, {name: DynamoType(value) for name, value in raw.items()})
        table.items[hash_value][range_value] = item


def timed(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    times = []
    for _ in range(REPEAT + 1):
        started = time.perf_counter()
        answer = client.query(**request)
        times.append((time.perf_counter() - started) * 1000)
    return {"firstMs": round(times[0], 1), "medianMs": round(statistics.median(times[1:]), 1), "items": answer["Count"]}


def main() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="bench",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        moto_query.install()
        started = time.perf_counter()
        seed(COUNT)
        seeded = time.perf_counter() - started
        pk = {":pk": {"S": "t#1"}}
        middle = {"S": f"person{COUNT // 2:07}@example.com"}
        queries = {
            "list by email (100, ascending)": {"KeyConditionExpression": "pk = :pk", "Limit": 100},
            "list by email (100, descending)": {
                "KeyConditionExpression": "pk = :pk",
                "Limit": 100,
                "ScanIndexForward": False,
            },
            "shard after a cursor (sk < :after, 100, descending)": {
                "KeyConditionExpression": "pk = :pk AND sk < :after",
                "ExpressionAttributeValues": {**pk, ":after": middle},
                "Limit": 100,
                "ScanIndexForward": False,
            },
            "whole address (begins_with, Limit 5001)": {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {**pk, ":prefix": middle},
                "Limit": 5001,
            },
            "broad word (begins_with matching all, Limit 5001)": {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {**pk, ":prefix": {"S": "person"}},
                "Limit": 5001,
            },
        }
        figures = {}
        for name, query in queries.items():
            request = {"TableName": "bench", "ExpressionAttributeValues": pk, **query}
            figures[name] = timed(client, request)
        moto_query.uninstall()
    print(json.dumps({"partition": COUNT, "seedS": round(seeded, 1), "load": os.getloadavg(), "queries": figures}))


if __name__ == "__main__":
    main()
