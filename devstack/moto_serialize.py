"""Answers moto's DynamoDB reads with `json.dumps`: the local stack's fix, never deployed.

moto 5.2 serializes every response by walking the operation's botocore output shape
(moto/core/serialize.py): for each attribute of each item it looks up aliases, pickers and
shapes. A read that returns items spends most of its time there. py-spy on a 4,000-row bulk
update (its pre-load is 40 BatchGetItem of 100 contacts) put 94% of the busy samples under
moto's `call_action`, mostly in that serializer; a search's Query of 200 contacts the same.

For the item-returning reads (Query, Scan, GetItem, BatchGetItem) the result is already in
DynamoDB's JSON wire form (`{"S": ...}` maps, made by moto's `dynamo_to_dict`), which is what
moto 5.0 sent with `json.dumps`. `install()` sends that again for these four operations when
the result holds only JSON types and bytes (binary attributes: base64, as the wire form
wants); anything else, and every error, goes through moto's serializer as before.
tests/unit/test_moto_serialize.py compares both answers, as boto3 parses them, for items of
every attribute type.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.dynamodb.responses import DynamoResult

READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})
_original_execute_result = DynamoResult.execute_result


class _Unsupported(Exception):
    """A value the wire form would need the serializer's shape for (never seen in these reads)."""


def _wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise _Unsupported(type(value).__name__)


def _execute_result(self: DynamoResult, context: Any) -> Any:
    if context.operation_model.name in READS and isinstance(self.result, dict):
        try:
            body = json.dumps(self.result, default=_wire, separators=(",", ":"))
        except _Unsupported:
            return _original_execute_result(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
    return _original_execute_result(self, context)


def install() -> None:
    """Patch moto in this process (its threaded server included); idempotent."""
    DynamoResult.execute_result = _execute_result  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoResult.execute_result = _original_execute_result  # type: ignore[method-assign]
