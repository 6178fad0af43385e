"""Reads a DynamoDB table's stream the way Lambda's event source mapping would, for the local stack and tests.

moto serves DescribeStream, GetShardIterator and GetRecords but cannot invoke
Lambda without Docker, so the local stack (`StreamPump`) and the functional tests
read each shard from where they left off and hand the records, shaped like a
Lambda DynamoDB event's `Records`, to the same handler function production runs.
"""

from __future__ import annotations

import bisect
import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devstack.calls import RELAY, mark_worker, relay_stats
from devstack.workers import LambdaContext

log = logging.getLogger("devstack.streams")


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


class EmbeddedStreamReader:
    """`StreamReader` for the stack's embedded AWS: reads the shard's records from moto's memory.

    Same records, same order, same shape as GetRecords answers. Over HTTP, moto's response
    serializer and botocore's parser took about 40% of the embedded AWS's CPU while a bulk load
    was relayed (py-spy, docs/search.md "Local stack"); in this process they cost nothing. Only
    used when moto runs inside this process (`python -m devstack` without AWS_ENDPOINT_URL).
    """

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._arn: str = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        table_arn = self._arn.split("/stream/")[0]  # arn:aws:dynamodb:<region>:<account>:table/<name>
        _, _, _, self._region, self._account, _ = table_arn.split(":", 5)
        self._table_name = table_name
        self._last: int | None = None  # sequence number of the last record read

    @property
    def stream_arn(self) -> str:
        return self._arn

    def _shard(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        # Looked up on every read: a cancelled transaction may swap the table's shard object for a copy.
        return dynamodb_backends[self._account][self._region].get_table(self._table_name).stream_shard

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        items = list(self._shard().items)  # one atomic copy of the list under the GIL
        numbers = [int(item.record["dynamodb"]["SequenceNumber"]) for item in items]
        start = 0 if self._last is None else bisect.bisect_right(numbers, self._last)
        batch = items[start : start + limit]
        if batch:
            self._last = numbers[start + len(batch) - 1]
        # Deep copies: the handler must not reach into (or change) what the embedded AWS stores.
        return [lambda_record(copy.deepcopy(item.record), self._arn) for item in batch]


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape of a Lambda event record (the timestamp as epoch seconds)."""
    stream = dict(raw["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        if created.tzinfo is None:  # moto keeps naive UTC datetimes
            created = created.replace(tzinfo=UTC)
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return {**raw, "dynamodb": stream, "eventSourceARN": stream_arn}


class StreamPump:
    """Feeds one table's stream to one `on_dynamodb_record` handler, as Lambda's event source mapping does.

    Each shard is read from its start (TRIM_HORIZON, as the template's mapping) and
    handed over in batches of at most `batch_size` records, in order. A batch whose
    handler raised is handed over again, unchanged, after a short back-off, until it
    succeeds (the mapping's MaximumRetryAttempts: -1): nothing behind it on the shard
    moves before it does. An idle stream is polled every `poll_seconds`, so a write
    reaches the handler well under a second later. While `paused` is set it reads nothing
    (devstack/faults.py), and then goes on from where it stopped.
    """

    def __init__(
        self,
        reader: StreamReader | EmbeddedStreamReader,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        function_name: str,
        region: str,
        batch_size: int = 1000,
        timeout_seconds: float = 300,
        poll_seconds: float = 0.1,
        paused: threading.Event | None = None,
    ) -> None:
        self.reader = reader
        self.handler = handler
        self.function_name = function_name
        self.region = region
        self.batch_size = batch_size
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.paused = paused or threading.Event()
        self._pending: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream:{function_name}", daemon=True)

    def start(self) -> StreamPump:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def pump_once(self) -> int:
        """Hand the next batch (the failed one again, else new records) to the handler; answer its size.

        Raises what the handler raised; the batch stays pending for the next call.
        """
        if not self._pending:
            self._pending = self.reader.read(self.batch_size)
        if not self._pending:
            return 0
        batch = self._pending[: self.batch_size]
        event = {"Records": [{**record, "awsRegion": self.region} for record in batch]}
        context = LambdaContext(self.function_name, self.timeout_seconds, time.monotonic(), str(uuid.uuid4()))
        started = time.monotonic()
        try:
            self.handler(event, context)
        except Exception:
            relay_stats.add(len(batch), time.monotonic() - started, failed=True)
            raise
        relay_stats.add(len(batch), time.monotonic() - started, failed=False)
        self._pending = self._pending[len(batch) :]
        return len(batch)

    def _run(self) -> None:
        mark_worker(RELAY)
        failures = 0
        while not self._stop.is_set():
            if self.paused.is_set():
                self._stop.wait(self.poll_seconds)
                continue
            try:
                handled = self.pump_once()
            except Exception:
                failures += 1
                log.exception("%s raised: the same batch is retried (attempt %d)", self.function_name, failures + 1)
                self._stop.wait(min(2.0, 0.1 * 2**failures))
                continue
            failures = 0
            if not handled:
                self._stop.wait(self.poll_seconds)
