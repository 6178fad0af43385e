"""The SQS-triggered delivery of webhooks: fan events out to endpoints, attempt, retry, dead-letter.

Chalice's SQS handler has no partial-batch response (raising redelivers the
whole batch), so `deliver_webhooks` never raises: each record and each
delivery is handled on its own, and only what failed is put back on the
queue — a retry as a `DeliveryMessage` delayed until its next attempt (in hops
of at most 15 minutes), a record that broke unexpectedly as itself, a few
times, then to the dead-letter queue.

Redelivery by SQS is harmless: a delivery's id derives from (event, endpoint)
and is created only once, and a `DeliveryMessage` names the attempt it asks
for, so a repeated one is ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from chalicelib import observability
from chalicelib.clock import now_iso
from chalicelib.repository import queues
from chalicelib.repository import webhooks as repo
from chalicelib.repository.batch import Deadline
from chalicelib.repository.models import DeliveryItem, WebhookItem
from chalicelib.schemas.events import (
    AnyEvent,
    ApiKeyActor,
    DeadLetter,
    DeliveryMessage,
    Event,
    EventBatchMessage,
    ImportWebhookPayload,
    WebhookPayload,
)
from chalicelib.services import activity, events, ssrf
from chalicelib.services.webhook_http import HttpResult, Transport, http_post, signed_headers
from chalicelib.settings import settings

log = logging.getLogger(__name__)
_DELIVERY_METRICS = {
    "succeeded": "WebhookDeliveriesSucceeded",
    "failed": "WebhookDeliveriesFailed",
    "pending": "WebhookDeliveryRetriesScheduled",
}

CONCURRENCY = 16
DEADLINE_RESERVE_SECONDS = 15.0  # stop starting attempts this close to the Lambda's timeout
MAX_REDELIVERIES = 5  # a record that keeps breaking the handler goes to the DLQ after this many tries
DELIVERY_LOG_DAYS = 30
MAX_HOP_SECONDS = queues.MAX_DELAY_SECONDS

_transport: Transport = http_post


def set_transport(transport: Transport | None) -> None:
    """Swap how a delivery is POSTed (tests inject failing or recording fakes); None restores HTTP."""
    global _transport
    _transport = transport or http_post


def retry_delay(attempts_made: int, schedule: Sequence[int] | None = None) -> int | None:
    """Seconds to wait before the next attempt after `attempts_made` failed ones; None when none is left."""
    schedule = settings.webhook_retry_schedule if schedule is None else schedule
    if attempts_made < 1 or attempts_made > len(schedule):
        return None
    return schedule[attempts_made - 1]


def delivery_id_for(event_id: str, webhook_id: str) -> str:
    """Deterministic, so an event redelivered by SQS maps to the same delivery; time-ordered like the event id."""
    digest = hashlib.sha256(f"{event_id}|{webhook_id}".encode()).hexdigest()[:20]
    stamp = event_id[4:16] if event_id.startswith("evt_") and len(event_id) >= 16 else f"{0:012x}"
    return f"dlv_{stamp}{digest}"


def matches(endpoint: WebhookItem, event: AnyEvent) -> bool:
    if not endpoint.active:
        return False
    # An endpoint hears what happens once it exists, not a backlog the relay is still working through. DynamoDB
    # Streams stamps commits to the whole second, so the comparison is by second: an event from the second the
    # endpoint was created is delivered.
    if event.createdAt[:19] < endpoint.created_at[:19]:
        return False
    wanted: set[str] = endpoint.events or set()
    if "*" not in wanted and event.type not in wanted:
        return False
    actor = event.data.actor
    return not (isinstance(actor, ApiKeyActor) and actor.apiKeyId in (endpoint.exclude_actor_key_ids or ()))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Outbox:
    """What a batch puts back on the queues; sent together at the end with as few calls as possible."""

    retries: list[queues.OutgoingMessage] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    attempts: list[DeliveryItem] = field(default_factory=list)  # recorded, for the contacts' timelines

    def flush(self) -> None:
        if self.attempts:
            activity.record_entries(activity.delivery_entry(delivery) for delivery in self.attempts)
        for queue, messages in (
            (settings.events_queue, self.retries),
            (settings.events_dlq, [queues.OutgoingMessage(body) for body in self.dead]),
        ):
            if not messages:
                continue
            try:
                queues.send(queue, messages)
            except Exception:
                log.exception("could not enqueue %d messages on %s: %s", len(messages), queue, messages)


def _schedule(outbox: Outbox, message: DeliveryMessage, now: float) -> None:
    delay = max(0, min(MAX_HOP_SECONDS, message.dueAt - int(now)))
    outbox.retries.append(queues.OutgoingMessage(events.encode_message(message), delay))


def attempt(endpoint: WebhookItem | None, delivery: DeliveryItem, outbox: Outbox) -> None:
    """POST the delivery once, record the attempt, and schedule the next one or dead-letter it."""
    now = time.time()
    delivery.attempts = int(delivery.attempts or 0) + 1
    if endpoint is None or not endpoint.active:
        result = HttpResult(None, "the webhook was deleted" if endpoint is None else "the webhook is inactive")
        final = True
    else:
        final = False
        try:
            target = ssrf.check_url(endpoint.url, allow_loopback_http=settings.webhooks_allow_loopback_http)
            headers = signed_headers(endpoint.secret, delivery.event_id, int(now), delivery.payload)
            result = _transport(target, headers, delivery.payload.encode(), settings.webhook_timeout_seconds)
        except ssrf.UnsafeUrl as refused:
            result = HttpResult(None, f"refused: {refused}")
    delivery.last_status_code = result.status
    delivery.last_error = result.error
    delivery.updated_at = now_iso()
    delay = None if final or result.ok else retry_delay(delivery.attempts)
    if result.ok:
        delivery.status, delivery.next_attempt_at = "succeeded", None
    elif delay is None:
        delivery.status, delivery.next_attempt_at = "failed", None
        letter = DeadLetter(
            tenantId=delivery.tenant_id,
            webhookId=delivery.webhook_id,
            deliveryId=delivery.delivery_id,
            attempts=delivery.attempts,
            lastStatusCode=result.status,
            lastError=result.error,
            event=_payload_of(delivery.payload),
        )
        outbox.dead.append(letter.model_dump_json())
    else:
        delivery.status, delivery.next_attempt_at = "pending", _iso(now + delay)
        message = DeliveryMessage(
            tenantId=delivery.tenant_id,
            webhookId=delivery.webhook_id,
            deliveryId=delivery.delivery_id,
            attempt=delivery.attempts + 1,
            dueAt=int(now + delay),
        )
        _schedule(outbox, message, now)
    repo.save_delivery(delivery)
    outbox.attempts.append(DeliveryItem.from_raw_data(delivery.serialize()))  # a snapshot: the item lives on
    observability.count(_DELIVERY_METRICS[str(delivery.status)])
    log.info(
        "delivery %s attempt %d: %s %s",
        delivery.delivery_id,
        delivery.attempts,
        delivery.status,
        result.status or result.error,
        extra={
            "tenant_id": delivery.tenant_id,
            "webhook_id": delivery.webhook_id,
            "delivery_id": delivery.delivery_id,
            "event_id": delivery.event_id,
        },
    )


_payload_adapter: TypeAdapter[WebhookPayload | ImportWebhookPayload] = TypeAdapter(
    WebhookPayload | ImportWebhookPayload
)


def _payload_of(raw: str) -> WebhookPayload | ImportWebhookPayload:
    return _payload_adapter.validate_json(raw)


def _new_delivery(endpoint: WebhookItem, event: AnyEvent) -> DeliveryItem:
    now = now_iso()
    delivery_id = delivery_id_for(event.id, endpoint.webhook_id)
    return DeliveryItem(
        repo.deliveries_pk(event.tenantId, endpoint.webhook_id),
        repo.delivery_sk(delivery_id),
        delivery_id=delivery_id,
        webhook_id=endpoint.webhook_id,
        tenant_id=event.tenantId,
        event_id=event.id,
        event_type=event.type,
        payload=event.payload().model_dump_json(),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        expires_at=int(time.time()) + DELIVERY_LOG_DAYS * 86400,
    )


class _Endpoints:
    """The tenant's endpoints, read once per batch."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, list[WebhookItem]] = {}

    def of(self, tenant_id: str) -> list[WebhookItem]:
        found = self._by_tenant.get(tenant_id)
        if found is None:
            found = self._by_tenant[tenant_id] = repo.list_webhooks(tenant_id)
        return found


def _fan_out(message: EventBatchMessage, endpoints: _Endpoints, outbox: Outbox, deadline: Deadline) -> None:
    jobs = [
        (endpoint, event)
        for event in message.events
        for endpoint in endpoints.of(event.tenantId)  # only the event's own tenant's endpoints, ever
        if matches(endpoint, event)
    ]
    if not jobs:
        return

    def run(job: tuple[WebhookItem, AnyEvent]) -> None:
        endpoint, event = job
        delivery = _new_delivery(endpoint, event)
        if not repo.create_delivery(delivery):
            return  # the same event again (SQS redelivery): it was delivered or is scheduled already
        if deadline.near():  # too late in this invocation: attempt it in the next one
            due = DeliveryMessage(
                tenantId=event.tenantId,
                webhookId=endpoint.webhook_id,
                deliveryId=delivery.delivery_id,
                attempt=1,
                dueAt=int(time.time()),
            )
            _schedule(outbox, due, time.time())
            return
        _attempt_safely(endpoint, delivery, outbox)

    # One endpoint receives one contact's events in the order they were committed (their first
    # attempts, at least): each (endpoint, contact) sequence runs on one thread.
    # An import event is its own sequence (keyed by the import id): nothing orders it against contacts.
    sequences: dict[tuple[str, str], list[tuple[WebhookItem, AnyEvent]]] = {}
    for endpoint, event in jobs:
        subject = event.data.contact.id if isinstance(event, Event) else event.data.id
        sequences.setdefault((endpoint.webhook_id, subject), []).append((endpoint, event))

    def run_in_order(sequence: list[tuple[WebhookItem, AnyEvent]]) -> None:
        for job in sequence:
            _guarded(run)(job)

    with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(sequences))) as pool:
        for _ in pool.map(run_in_order, sequences.values()):
            pass


def _attempt_safely(endpoint: WebhookItem | None, delivery: DeliveryItem, outbox: Outbox) -> None:
    """`attempt`, and if recording it breaks (DynamoDB unavailable), ask for the same attempt again later."""
    made = int(delivery.attempts or 0)
    try:
        attempt(endpoint, delivery, outbox)
    except Exception:
        log.exception("attempt of delivery %s failed; asking for it again", delivery.delivery_id)
        again = DeliveryMessage(
            tenantId=delivery.tenant_id,
            webhookId=delivery.webhook_id,
            deliveryId=delivery.delivery_id,
            attempt=made + 1,
            dueAt=int(time.time()) + 60,
        )
        _schedule(outbox, again, time.time())


def _guarded(run: Callable[[Any], None]) -> Callable[[Any], None]:
    """One delivery failing unexpectedly is logged; it must not stop the others."""

    def guarded(job: Any) -> None:
        try:
            run(job)
        except Exception:
            log.exception("delivery job failed: %s", job)

    return guarded


def _retry(message: DeliveryMessage, outbox: Outbox) -> None:
    now = time.time()
    if message.dueAt > now + 1:  # the wait is longer than one SQS delay: hop again
        _schedule(outbox, message, now)
        return
    delivery = repo.get_delivery(message.tenantId, message.webhookId, message.deliveryId)
    if delivery is None or delivery.status != "pending" or int(delivery.attempts or 0) != message.attempt - 1:
        return  # stale or repeated: that attempt happened already
    _attempt_safely(repo.get_webhook(message.tenantId, message.webhookId), delivery, outbox)


def _put_back(body: str, message: EventBatchMessage | DeliveryMessage, outbox: Outbox) -> None:
    """A record that broke the handler goes back with a growing delay, then to the DLQ."""
    if message.redeliveries >= MAX_REDELIVERIES:
        outbox.dead.append(body)
        return
    again = message.model_copy(update={"redeliveries": message.redeliveries + 1})
    delay = min(MAX_HOP_SECONDS, 30 * 2**again.redeliveries)
    outbox.retries.append(queues.OutgoingMessage(events.encode_message(again), delay))


def _consume_events(message: EventBatchMessage, endpoints: _Endpoints, outbox: Outbox, deadline: Deadline) -> None:
    """Both jobs of an event batch, each isolated from the other: the activity timeline, then webhook fan-out.

    Both are idempotent (activity entries and deliveries are keyed by the event), so when
    either fails the whole record is put back and redone.
    """
    failure: Exception | None = None
    # Only contact events make timeline entries; import events go to webhooks alone.
    contact_events = [event for event in message.events if isinstance(event, Event)]
    for job in (lambda: activity.record_events(contact_events), lambda: _fan_out(message, endpoints, outbox, deadline)):
        try:
            job()
        except Exception as error:
            log.exception("event batch job failed")
            failure = failure or error
    if failure is not None:
        raise failure


def deliver_webhooks(bodies: Sequence[str], context: Any = None) -> None:
    """Handle the bodies of one SQS batch; never raises (see the module's docstring)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = Deadline((lambda: remaining() / 1000) if remaining else None, reserve=DEADLINE_RESERVE_SECONDS)
    outbox = Outbox()
    endpoints = _Endpoints()
    for body in bodies:
        try:
            message = events.decode_message(body)
        except Exception:
            log.exception("malformed message sent to the DLQ: %.200s", body)
            outbox.dead.append(json.dumps({"kind": "malformed", "body": body}))
            continue
        try:
            if isinstance(message, EventBatchMessage):
                _consume_events(message, endpoints, outbox, deadline)
            else:
                _retry(message, outbox)
        except Exception:
            log.exception("message failed; putting it back")
            _put_back(body, message, outbox)
    outbox.flush()
