"""INTERIM, until the relay lands (branch `relay`): feeds the contacts stream to the counters and the changes feed.

The relay (an `on_dynamodb_record` handler and its devstack pump) replaces this
file: delete it and its line in `devstack/__main__.py` when merging, and list
`counters` and `changes_feed` among the relay's consumers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from devstack.streams import StreamReader

log = logging.getLogger("devstack.interim_relay")


class InterimRelay:
    """Reads the contacts stream every `every_seconds` and hands each batch to the consumers, retrying a failed one."""

    def __init__(self, every_seconds: float = 0.2) -> None:
        from chalicelib.repository.aws import client
        from chalicelib.services import changes_feed, counters
        from chalicelib.settings import settings

        self._reader = StreamReader(client("dynamodb"), client("dynamodbstreams"), settings.contacts_table)
        self._consumers: tuple[Any, ...] = (counters, changes_feed)
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="interim-relay", daemon=True)

    def start(self) -> InterimRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from chalicelib.services.contact_changes import from_stream_record

        batch: list[Any] = []
        while not self._stop.wait(self._every):
            try:
                if not batch:
                    batch = [from_stream_record(record) for record in self._reader.read(limit=100)]
                for consumer in self._consumers:
                    consumer.apply_changes(batch)  # both are idempotent under a replayed batch
                batch = []
            except Exception:
                log.exception("stream batch failed; retrying it")  # as Lambda retries a shard's batch
