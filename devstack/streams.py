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
        # Last sequence number read per shard (None: nothing yet). A fresh iterator is asked for on every
        # read: moto swaps a table's stream shard object for a copy whenever a TransactWriteItems on the table
        # is cancelled (it restores a deep copy of the table), and an iterator held across that reads nothing more.
        self._positions: dict[str, str | None] = {}

    @property
    def stream_arn(self) -> str:
        return self._arn

    def _discover_shards(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            self._positions.setdefault(shard["ShardId"], None)

    def _iterator(self, shard_id: str) -> str:
        position = self._positions[shard_id]
        if position is None:
            where: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
        answer = self._streams.get_shard_iterator(StreamArn=self._arn, ShardId=shard_id, **where)
        return str(answer["ShardIterator"])

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every record that arrived since the last call (at most `limit` a shard), as Lambda would pass them."""
        self._discover_shards()
        records: list[dict[str, Any]] = []
        for shard_id in list(self._positions):
            answer = self._streams.get_records(ShardIterator=self._iterator(shard_id), Limit=limit)
            raw_records = answer["Records"]
            if raw_records:
                self._positions[shard_id] = raw_records[-1]["dynamodb"]["SequenceNumber"]
            records.extend(lambda_record(raw, self._arn) for raw in raw_records)
        return records


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape of a Lambda event record (the timestamp as epoch seconds)."""
    stream = dict(raw["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return {**raw, "dynamodb": stream, "eventSourceARN": stream_arn}
