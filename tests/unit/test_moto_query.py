"""The local stack's moto Query patch answers exactly what unpatched moto answers."""

from __future__ import annotations

import json
import random
import sys
import threading
from collections import Counter
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


# --- Writes of every kind interleaved with queries: the sorted keys never go stale -------------

_KEYS_S = ["a", "ab", "abc", "b", "b#", "b#a", "ba", "c", "é", "éa", "A", "#", "a b"]
_KEYS_N = ["-50", "-7", "-1.5", "0", "1", "1.0", "1.5", "2", "7", "10", "10.00", "42", "99", "1e2"]
_PARTITIONS = ["p0", "p1", "p2"]
_TABLES = {"strings": ("S", _KEYS_S), "numbers": ("N", _KEYS_N)}


@pytest.fixture(params=["moto transactions", "devstack/atomic.py transactions"])
def empty_tables(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Empty tables, and both ways a transaction is rolled back: moto's table copy or the devstack's restore."""
    from moto.dynamodb.models import DynamoDBBackend

    from devstack.atomic import make_dynamodb_writes_atomic

    names = ("put_item", "update_item", "delete_item", "transact_write_items")
    saved = {name: getattr(DynamoDBBackend, name) for name in names}
    if request.param.startswith("devstack"):
        make_dynamodb_writes_atomic()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            for name, (kind, _) in _TABLES.items():
                client.create_table(
                    TableName=name,
                    BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "sk", "AttributeType": kind},
                    ],
                    KeySchema=[
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                )
            yield client
    finally:
        for name, method in saved.items():
            setattr(DynamoDBBackend, name, method)


def _key(rng: random.Random, table: str) -> dict[str, Any]:
    kind, keys = _TABLES[table]
    return {"pk": {"S": rng.choice(_PARTITIONS)}, "sk": {kind: rng.choice(keys)}}


def _item(rng: random.Random, table: str, serial: int) -> dict[str, Any]:
    item = {**_key(rng, table), "v": {"N": str(serial)}}
    if rng.random() < 0.4:  # large items: pages also end by moto's 1 MB size
        item["blob"] = {"S": "x" * 300_000}
    return item


def _write(client: Any, rng: random.Random, serial: int) -> None:
    table = rng.choice(list(_TABLES))
    kind = rng.randrange(6)
    if kind == 0:
        client.put_item(TableName=table, Item=_item(rng, table, serial))
    elif kind == 1:  # creates the item when it is missing, else changes it in place (its size too)
        client.update_item(
            TableName=table,
            Key=_key(rng, table),
            UpdateExpression="SET v = :v, fill = :fill",
            ExpressionAttributeValues={":v": {"N": str(serial)}, ":fill": {"S": "y" * rng.randrange(1, 50_000)}},
        )
    elif kind == 2:
        client.delete_item(TableName=table, Key=_key(rng, table))
    elif kind == 3:
        requests: dict[str, dict[str, Any]] = {}
        for _ in range(rng.randint(1, 8)):
            key = _key(rng, table)
            request = {"PutRequest": {"Item": _item(rng, table, serial)}} if rng.random() < 0.5 else None
            request = request or {"DeleteRequest": {"Key": key}}
            target = request.get("PutRequest", {}).get("Item", key)
            requests[json.dumps([target["pk"], target["sk"]])] = request  # one request per key in a batch
        client.batch_write_item(RequestItems={table: list(requests.values())})
    else:  # a transaction; kind 5 also checks a condition that fails, so the whole of it is rolled back
        actions: dict[str, dict[str, Any]] = {}
        for _ in range(rng.randint(1, 4)):
            item = _item(rng, table, serial)
            key = {"pk": item["pk"], "sk": item["sk"]}
            action = rng.choice(
                [
                    {"Put": {"TableName": table, "Item": item}},
                    {"Delete": {"TableName": table, "Key": key}},
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key,
                            "UpdateExpression": "SET v = :v",
                            "ExpressionAttributeValues": {":v": {"N": str(serial)}},
                        }
                    },
                ]
            )
            actions[json.dumps([key["pk"], key["sk"]])] = action
        if kind == 5:
            missing = {"pk": {"S": "p0"}, "sk": {_TABLES[table][0]: "0" if table == "numbers" else "zz-missing"}}
            actions.pop(json.dumps([missing["pk"], missing["sk"]]), None)
            actions["check"] = {
                "ConditionCheck": {"TableName": table, "Key": missing, "ConditionExpression": "attribute_exists(v)"}
            }
        try:
            client.transact_write_items(TransactItems=list(actions.values()))
        except client.exceptions.TransactionCanceledException:
            assert kind == 5


def _random_query(rng: random.Random) -> dict[str, Any]:
    table = rng.choice(list(_TABLES))
    kind, keys = _TABLES[table]
    query: dict[str, Any] = {
        "TableName": table,
        "ScanIndexForward": rng.random() < 0.5,
        "ExpressionAttributeValues": {":pk": {"S": rng.choice([*_PARTITIONS, "missing"])}},
    }
    limit = rng.choice([None, 1, 2, 3, 5, 100])
    if limit:
        query["Limit"] = limit
    conditions = ["", "= :a", "< :a", "<= :a", "> :a", ">= :a", "BETWEEN :a AND :b"]
    if kind == "S":
        conditions.append("begins_with")
    condition = rng.choice(conditions)
    a, b = sorted([rng.choice(keys), rng.choice(keys)], key=lambda k: float(k) if kind == "N" else k)
    if condition == "begins_with":
        query["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :a)"
        query["ExpressionAttributeValues"][":a"] = {"S": rng.choice(["a", "b#", "é", "ab", "z"])}
    elif condition:
        query["KeyConditionExpression"] = f"pk = :pk AND sk {condition}"
        query["ExpressionAttributeValues"][":a"] = {kind: a}
        if ":b" in condition:
            query["ExpressionAttributeValues"][":b"] = {kind: b}
    else:
        query["KeyConditionExpression"] = "pk = :pk"
    if rng.random() < 0.3:  # a cursor at a key that may or may not exist
        start = rng.choice(keys) if rng.random() < 0.7 else ("aa" if kind == "S" else "3.5")
        query["ExclusiveStartKey"] = {"pk": query["ExpressionAttributeValues"][":pk"], "sk": {kind: start}}
    return query


def _answers(client: Any, query: dict[str, Any], walk: bool) -> Any:
    if walk:
        return _all_pages(client, query)
    answer = client.query(**query)
    answer.pop("ResponseMetadata")
    return answer


def _compare(client: Any, query: dict[str, Any], walk: bool) -> list[dict[str, Any]]:
    moto_query.install()
    try:
        patched = _answers(client, query, walk)
    finally:
        moto_query.uninstall()
    assert patched == _answers(client, query, walk), query
    return patched if walk else [patched]


@pytest.mark.parametrize("seed", [1, 2])
def test_patched_query_stays_right_while_every_kind_of_write_changes_the_partitions(
    empty_tables: Any, seed: int
) -> None:
    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    for serial in range(100):
        for _ in range(rng.randint(1, 3)):
            _write(empty_tables, rng, serial)
        for _ in range(3):
            query = _random_query(rng)
            for page in _compare(empty_tables, query, walk=rng.random() < 0.2):
                seen["items"] += page["Count"]
                if "LastEvaluatedKey" in page:
                    seen["by size" if page["Count"] < query.get("Limit", 10**6) else "by limit"] += 1
    # the comparisons covered answers with items, and pages ended by Limit and by moto's 1 MB size
    assert seen["items"] > 0 and seen["by limit"] > 0 and seen["by size"] > 0, seen


def test_queries_on_one_thread_while_another_writes_see_whole_ordered_pages(empty_tables: Any) -> None:
    """moto's threaded server writes and queries on different threads: the sorted keys are never half-updated."""
    keys = [f"k{i:03}" for i in range(60)]
    for key in keys[::2]:
        empty_tables.put_item(TableName="strings", Item={"pk": {"S": "p0"}, "sk": {"S": key}})
    failures: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def write() -> None:
        rng = random.Random(5)
        try:
            for _ in range(400):
                key = {"pk": {"S": "p0"}, "sk": {"S": rng.choice(keys)}}
                if rng.random() < 0.5:
                    empty_tables.put_item(TableName="strings", Item=key)
                else:
                    empty_tables.delete_item(TableName="strings", Key=key)
        except BaseException as error:  # the reader's assertions below report it
            failures.append(error)
        finally:
            writing.clear()

    query = {
        "TableName": "strings",
        "KeyConditionExpression": "pk = :pk AND sk > :a",
        "ExpressionAttributeValues": {":pk": {"S": "p0"}, ":a": {"S": "k010"}},
        "Limit": 7,
    }
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns every few bytecodes: a half-done update would show
    moto_query.install()
    try:
        writer = threading.Thread(target=write)
        writer.start()
        pages = 0
        while writing.is_set() or pages == 0:
            for forward in (True, False):
                answer = empty_tables.query(**query, ScanIndexForward=forward)
                got = [item["sk"]["S"] for item in answer["Items"]]
                assert got == sorted(got, reverse=not forward) and len(set(got)) == len(got)
                assert all(key > "k010" for key in got) and len(got) <= 7
                pages += 1
        writer.join()
    finally:
        moto_query.uninstall()
        sys.setswitchinterval(interval)
    assert not failures
    for forward in (True, False):  # once the writes are over, the answer is unpatched moto's
        _compare(empty_tables, {**query, "ScanIndexForward": forward}, walk=True)
