"""The contacts table's stream on moto, read in-process as the relay's event source mapping would.

`pump_relay()` hands every record committed since the previous pump to the relay
(`app.relay_contact_changes`, with Lambda's event shape), the way the local stack's
`StreamPump` does: functional tests call it after their writes (and `consume_events`
calls it first), so events, activity and every other stream consumer are up to date.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.repository.aws import client
from chalicelib.services.contact_changes import ContactChange, from_stream_record
from chalicelib.settings import settings
from devstack.streams import StreamReader
from devstack.workers import LambdaContext

# One reader per stream (each test's moto creates the table, and so its stream, anew).
_readers: dict[str, StreamReader] = {}


class ContactStream:
    """`records()` answers the Lambda-shaped records committed since the previous call; `changes()` parses them."""

    def __init__(self) -> None:
        self._reader = StreamReader(client("dynamodb"), client("dynamodbstreams"), settings.contacts_table)

    def records(self) -> list[dict[str, Any]]:
        return self._reader.read()

    def changes(self) -> list[ContactChange]:
        return [from_stream_record(record) for record in self.records()]


def _shared_reader() -> StreamReader:
    reader = StreamReader(client("dynamodb"), client("dynamodbstreams"), settings.contacts_table)
    return _readers.setdefault(reader.stream_arn, reader)


def pending_records(limit: int = 1000) -> list[dict[str, Any]]:
    """The records the relay has not been handed yet (they count as handed from now on)."""
    return _shared_reader().read(limit)


def relay_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [{**record, "awsRegion": settings.region} for record in records]}


def run_relay(records: list[dict[str, Any]]) -> None:
    """One invocation of the relay on these records, as Lambda would make it; raises what it raises."""
    from app import relay_contact_changes

    context = LambdaContext("relay_contact_changes", 300, time.monotonic())
    relay_contact_changes(relay_event(records), context)


def pump_relay(batch_size: int = 1000) -> int:
    """Run the relay on every pending stream record, in batches; answer how many records it was handed."""
    handed = 0
    while True:
        records = pending_records(batch_size)
        if not records:
            return handed
        run_relay(records)
        handed += len(records)


class RelayPump:
    """The relay, driven by a test (fixture `relay`): `pump()` after writes, `replay_last()` to redeliver.

    `pump()` is `pump_relay()` that keeps each batch of records it handed over, so that
    `replay_last()` can hand the last one to the relay again, as the stream does after a
    handler that raised: every consumer (events, counters, changes feed) sees it twice.
    """

    def __init__(self, batch_size: int = 1000) -> None:
        self._batch_size = batch_size
        self.batches: list[list[dict[str, Any]]] = []

    def pump(self) -> int:
        handed = 0
        while True:
            records = pending_records(self._batch_size)
            if not records:
                return handed
            self.batches.append(records)
            run_relay(records)
            handed += len(records)

    def replay_last(self) -> None:
        """The stream redelivers the last batch, as after a handler that raised."""
        run_relay(self.batches[-1])
