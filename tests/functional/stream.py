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
