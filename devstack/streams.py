"""Reads a DynamoDB table's stream the way Lambda's event source mapping would, for the local stack and tests.

moto serves DescribeStream, GetShardIterator and GetRecords but cannot invoke
Lambda without Docker, so the local stack (and the functional tests) read each
shard from where they left off and hand the records, shaped like a Lambda
DynamoDB event's `Records`, to the same handler function production runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class StreamReader:
    """Follows every shard of one table's stream from its start (TRIM_HORIZON); `read()` answers new records."""

    def __init__(self, dynamodb: Any, streams: Any, table_name: str) -> None:
        self._streams = streams
        self._arn: str = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str | None] = {}

    @property
    def stream_arn(self) -> str:
        return self._arn

    def _discover_shards(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every record that arrived since the last call (at most `limit` a shard), as Lambda would pass them."""
        self._discover_shards()
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self._streams.get_records(ShardIterator=iterator, Limit=limit)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            records.extend(lambda_record(raw, self._arn) for raw in answer["Records"])
        return records


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape of a Lambda event record (the timestamp as epoch seconds)."""
    stream = dict(raw["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return {**raw, "dynamodb": stream, "eventSourceARN": stream_arn}
