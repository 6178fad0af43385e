"""Helpers for tests of hostile input: every table's items, to prove that a refused request wrote nothing."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.settings import settings

TABLES = ("contacts_table", "contact_keys_table", "memberships_table", "meta_table", "activity_table")


def everything_stored() -> dict[str, list[Any]]:
    """Every item of every table, sorted: equal before and after means the request wrote nothing."""
    dynamodb = boto3.client("dynamodb")
    stored: dict[str, list[Any]] = {}
    for name in TABLES:
        table = getattr(settings, name)
        items: list[Any] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(page["Items"])
        stored[table] = sorted(items, key=repr)
    return stored


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The answer is `status` in the API's error envelope; answer the error object."""
    assert response.status_code == status, (response.status_code, response.body[:300])
    error: dict[str, Any] = response.json_body["error"]
    assert error["code"] == code, error
    assert set(error) <= {"code", "message", "details"}
    return error
