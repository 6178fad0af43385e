"""The contacts table's stream on moto, read in-process as the relay's event source mapping would."""

from __future__ import annotations

from typing import Any

from chalicelib.repository.aws import client
from chalicelib.services.contact_changes import ContactChange, from_stream_record
from chalicelib.settings import settings
from devstack.streams import StreamReader


class ContactStream:
    """`records()` answers the Lambda-shaped records committed since the previous call; `changes()` parses them."""

    def __init__(self) -> None:
        self._reader = StreamReader(client("dynamodb"), client("dynamodbstreams"), settings.contacts_table)

    def records(self) -> list[dict[str, Any]]:
        return self._reader.read()

    def changes(self) -> list[ContactChange]:
        return [from_stream_record(record) for record in self.records()]


class RelayPump:
    """Stands in for the relay until it lands: hands new stream records to the stream consumers, in order.

    `pump()` runs until the stream has nothing new, so after it every committed
    change has reached the counters and the changes feed, as after the relay caught up.
    """

    def __init__(self, consumers: tuple[Any, ...] | None = None) -> None:
        from chalicelib.services import changes_feed, counters

        self._stream = ContactStream()
        self._consumers = consumers if consumers is not None else (counters, changes_feed)
        self.batches: list[list[ContactChange]] = []

    def pump(self) -> int:
        applied = 0
        while True:
            changes = self._stream.changes()
            if not changes:
                return applied
            self.batches.append(changes)
            for consumer in self._consumers:
                consumer.apply_changes(changes)
            applied += len(changes)

    def replay_last(self) -> None:
        """The stream redelivers the last batch, as after a handler that raised."""
        for consumer in self._consumers:
            consumer.apply_changes(self.batches[-1])
