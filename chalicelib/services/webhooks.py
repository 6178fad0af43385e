"""Webhook endpoints of a tenant: CRUD, their delivery log and manual retries."""

from __future__ import annotations

import secrets
import time

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.repository import queues
from chalicelib.repository import webhooks as repo
from chalicelib.repository.models import DeliveryItem, WebhookItem
from chalicelib.schemas.events import DeliveryMessage
from chalicelib.schemas.webhooks import (
    DeliveriesQuery,
    Delivery,
    DeliveryPage,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookList,
    WebhookPatch,
)
from chalicelib.services import cursors, events, ssrf
from chalicelib.services.auth import Principal
from chalicelib.services.webhook_http import new_secret
from chalicelib.settings import settings

MAX_WEBHOOKS_PER_TENANT = 50


def to_webhook(item: WebhookItem) -> Webhook:
    return Webhook(
        id=item.webhook_id,
        url=item.url,
        events=sorted(item.events or ()),
        description=item.description,
        excludeActorKeyIds=sorted(item.exclude_actor_key_ids or ()),
        active=item.active,
        createdAt=item.created_at,
        updatedAt=item.updated_at,
    )


def to_delivery(item: DeliveryItem) -> Delivery:
    return Delivery(
        id=item.delivery_id,
        webhookId=item.webhook_id,
        eventId=item.event_id,
        eventType=item.event_type,
        status=item.status,  # type: ignore[arg-type]
        attempts=int(item.attempts or 0),
        lastStatusCode=int(item.last_status_code) if item.last_status_code is not None else None,
        lastError=item.last_error,
        nextAttemptAt=item.next_attempt_at,
        createdAt=item.created_at,
        updatedAt=item.updated_at,
    )


def check_url(url: str) -> None:
    """422 unless the URL may be called from here (https, public addresses; see `ssrf`)."""
    try:
        ssrf.check_url(url, allow_loopback_http=settings.webhooks_allow_loopback_http)
    except ssrf.UnsafeUrl as refused:
        raise errors.ValidationFailed(
            "The webhook URL is not allowed.", details=[{"field": "url", "message": str(refused)}]
        ) from None


def _load(principal: Principal, webhook_id: str) -> WebhookItem:
    item = repo.get_webhook(principal.tenant_id, webhook_id)
    if item is None:
        raise errors.NotFound("No such webhook.")
    return item


def create_webhook(principal: Principal, body: WebhookCreate) -> WebhookCreated:
    check_url(body.url)
    if len(repo.list_webhooks(principal.tenant_id)) >= MAX_WEBHOOKS_PER_TENANT:
        raise errors.ValidationFailed(
            f"A tenant may register at most {MAX_WEBHOOKS_PER_TENANT} webhooks.",
            details=[{"field": "body", "message": "delete a webhook before adding another"}],
        )
    now = now_iso()
    webhook_id = "wh_" + secrets.token_hex(12)
    item = repo.new_webhook(
        principal.tenant_id,
        webhook_id,
        url=body.url,
        events=set(body.events),
        description=body.description,
        exclude_actor_key_ids=set(body.excludeActorKeyIds) or None,
        secret=new_secret(),
        active=body.active,
        created_at=now,
        updated_at=now,
    )
    repo.save_webhook(item)
    return WebhookCreated(secret=item.secret, **to_webhook(item).model_dump())


def list_webhooks(principal: Principal) -> WebhookList:
    return WebhookList(data=[to_webhook(item) for item in repo.list_webhooks(principal.tenant_id)])


def get_webhook(principal: Principal, webhook_id: str) -> Webhook:
    return to_webhook(_load(principal, webhook_id))


def update_webhook(principal: Principal, webhook_id: str, patch: WebhookPatch) -> Webhook:
    item = _load(principal, webhook_id)
    fields = patch.model_fields_set
    if "url" in fields and patch.url is not None:
        check_url(patch.url)
        item.url = patch.url
    if "events" in fields and patch.events is not None:
        item.events = set(patch.events)
    if "description" in fields:
        item.description = patch.description
    if "excludeActorKeyIds" in fields:
        item.exclude_actor_key_ids = set(patch.excludeActorKeyIds or ()) or None
    if "active" in fields and patch.active is not None:
        item.active = patch.active
    item.updated_at = now_iso()
    repo.save_webhook(item)
    return to_webhook(item)


def delete_webhook(principal: Principal, webhook_id: str) -> WebhookDeleted:
    """Answers the endpoint as it was (API.md: "endpoint without secret"), marked `deleted`.

    Deliveries still pending for it end as failed when their next attempt comes; the log expires by TTL.
    """
    item = _load(principal, webhook_id)
    repo.delete_webhook(item)
    return WebhookDeleted(**to_webhook(item).model_dump())


def list_deliveries(principal: Principal, webhook_id: str, query: DeliveriesQuery) -> DeliveryPage:
    _load(principal, webhook_id)
    listing = f"deliveries#{webhook_id}"
    after = cursors.decode(query.cursor, principal.tenant_id, listing)
    items, last = repo.page_deliveries(principal.tenant_id, webhook_id, query.limit, after)
    next_cursor = cursors.encode(principal.tenant_id, listing, last) if last else None
    return DeliveryPage(data=[to_delivery(item) for item in items], nextCursor=next_cursor)


def retry_delivery(principal: Principal, webhook_id: str, delivery_id: str) -> Delivery:
    """Queue one more attempt of that delivery, now, whatever its status."""
    _load(principal, webhook_id)
    item = repo.get_delivery(principal.tenant_id, webhook_id, delivery_id)
    if item is None:
        raise errors.NotFound("No such delivery.")
    item.status = "pending"
    item.next_attempt_at = now_iso()
    item.updated_at = item.next_attempt_at
    repo.save_delivery(item)
    message = DeliveryMessage(
        tenantId=principal.tenant_id,
        webhookId=webhook_id,
        deliveryId=delivery_id,
        attempt=int(item.attempts or 0) + 1,
        dueAt=int(time.time()),
    )
    queues.send(settings.events_queue, [queues.OutgoingMessage(events.encode_message(message))])
    return to_delivery(item)
