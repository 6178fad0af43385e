"""The relay: the contacts table's stream records, as `ContactChange`s, handed to every stream consumer.

Lambda calls `app.relay_contact_changes` with a batch of stream records of one
shard, in order. For each record, `relay_records`:

1. parses it (`contact_changes.from_stream_record`); a record that cannot be parsed
   is PARKED — sent to the "stream-parked" queue, where an alarm fires — and the
   shard moves on: Chalice can configure neither bisect-on-error nor partial batch
   responses for stream sources, so a record that fails every time would block its
   shard until it expires (24 hours) and hold back every later change;
2. calls each consumer of `CONSUMERS`, in order, with the batch's changes. A consumer
   answers the changes it cannot convert (they are parked too) and raises on a
   transient failure (SQS or DynamoDB unavailable): the whole batch is then retried
   by the stream, so every consumer must be idempotent under a replayed batch.

Guarantees and operations: docs/webhooks.md ("Change capture").
"""

from __future__ import annotations

import base64
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.clock import now_iso
from chalicelib.repository import queues
from chalicelib.schemas.events import ParkedStreamRecord
from chalicelib.services import changes_feed, counters, events, search_index
from chalicelib.services.contact_changes import ContactChange, Refused, from_stream_record
from chalicelib.settings import settings

log = logging.getLogger(__name__)


# A consumer takes the batch's changes in stream order; it answers the changes it refuses
# (or None) and raises on a transient failure.
Consumer = Callable[[Sequence[ContactChange]], Iterable[Refused] | None]

# In order: the domain events (webhooks, activity), the search index (docs/search.md), the totals
# (docs/counters.md), the changes feed (docs/changes-feed.md). Each is idempotent under a
# replayed batch, as a raising consumer makes the stream replay the batch to all of them: the
# events keep their ids, the index is made to match the stored contact, the counters' applied
# markers make a replay a no-op, and the feed writes a replayed change again later (a client may
# see a state twice, never miss one).
CONSUMERS: tuple[tuple[str, Consumer], ...] = (
    ("events", events.apply_changes),
    ("search_index", search_index.apply_changes),
    ("counters", counters.apply_changes),
    ("changes_feed", changes_feed.apply_changes),
)


@dataclass(frozen=True)
class RelayResult:
    records: int
    changes: int
    parked: int
    seconds: float


def relay_records(records: Sequence[dict[str, Any]]) -> RelayResult:
    """Hand one batch of Lambda DynamoDB stream records to every consumer; park what cannot be converted.

    Raises when a consumer or the parking fails transiently, so that Lambda retries the batch.
    """
    started = time.monotonic()
    changes: list[ContactChange] = []
    parked: list[ParkedStreamRecord] = []
    by_event_id: dict[str, dict[str, Any]] = {}
    for record in records:
        try:
            change = from_stream_record(record)
        except Exception as error:
            log.exception("stream record %s cannot be parsed; parking it", record.get("eventID"))
            parked.append(_parked(record, "parse", error))
            continue
        changes.append(change)
        by_event_id[change.event_id] = record
    seconds_by_consumer: dict[str, float] = {}
    for name, consumer in CONSUMERS:
        consumer_started = time.monotonic()
        refused = list(consumer(changes) or ())
        seconds_by_consumer[name] = round(time.monotonic() - consumer_started, 3)
        for item in refused:
            log.error("consumer %s refused stream record %s: %s", name, item.change.event_id, item.reason)
            parked.append(_parked(by_event_id[item.change.event_id], name, item.reason))
    if parked:
        # Raises when SQS refuses: the batch is retried, and the consumers' work is idempotent.
        queues.send(settings.stream_parked_queue, [queues.OutgoingMessage(p.model_dump_json()) for p in parked])
    result = RelayResult(len(records), len(changes), len(parked), time.monotonic() - started)
    log.info(
        "relayed %d stream records (%d parked) in %.3f s %s",
        result.records,
        result.parked,
        result.seconds,
        seconds_by_consumer,
    )
    return result


def _parked(record: dict[str, Any], stage: str, reason: Exception | str) -> ParkedStreamRecord:
    found = record.get("dynamodb")
    stream: dict[str, Any] = found if isinstance(found, dict) else {}
    raw = json.dumps(record, default=str, separators=(",", ":")).encode()
    packed = events.COMPRESSED_PREFIX + base64.b64encode(zlib.compress(raw, 6)).decode()
    text = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
    return ParkedStreamRecord(
        eventID=str(record.get("eventID")),
        eventName=record.get("eventName"),
        sequenceNumber=stream.get("SequenceNumber"),
        keys=stream.get("Keys"),
        stage=stage,
        reason=text[:2000],
        parkedAt=now_iso(),
        # Room for the envelope: a record too big for one message is parked without its images.
        record=packed if len(packed) < events.MAX_MESSAGE_BYTES - 8_000 else None,
    )


def unpack_parked(parked: ParkedStreamRecord) -> dict[str, Any] | None:
    """The Lambda record a parked one carries, for an operator's replay."""
    if parked.record is None:
        return None
    raw = zlib.decompress(base64.b64decode(parked.record[len(events.COMPRESSED_PREFIX) :]))
    found: dict[str, Any] = json.loads(raw)
    return found
