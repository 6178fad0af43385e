"""Webhook endpoints and delivery records in the meta table."""

from __future__ import annotations

from typing import Any

from chalicelib.repository.accounts import tenant_pk
from chalicelib.repository.conditional import save_if
from chalicelib.repository.models import DeliveryItem, WebhookItem
from chalicelib.repository.paging import page_of

WEBHOOK_PREFIX = "WEBHOOK#"
DELIVERY_PREFIX = "DELIVERY#"


def webhook_sk(webhook_id: str) -> str:
    return f"{WEBHOOK_PREFIX}{webhook_id}"


def deliveries_pk(tenant_id: str, webhook_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#{WEBHOOK_PREFIX}{webhook_id}"


def delivery_sk(delivery_id: str) -> str:
    return f"{DELIVERY_PREFIX}{delivery_id}"


def save_webhook(item: WebhookItem) -> None:
    item.save()


def get_webhook(tenant_id: str, webhook_id: str) -> WebhookItem | None:
    try:
        return WebhookItem.get(tenant_pk(tenant_id), webhook_sk(webhook_id), consistent_read=True)
    except WebhookItem.DoesNotExist:
        return None


def list_webhooks(tenant_id: str) -> list[WebhookItem]:
    query = WebhookItem.query(tenant_pk(tenant_id), WebhookItem.sk.startswith(WEBHOOK_PREFIX), consistent_read=True)
    return list(query)


def new_webhook(tenant_id: str, webhook_id: str, **attributes: Any) -> WebhookItem:
    """A webhook endpoint not yet stored, keyed under its tenant."""
    return WebhookItem(tenant_pk(tenant_id), webhook_sk(webhook_id), webhook_id=webhook_id, **attributes)


def delete_webhook(item: WebhookItem) -> None:
    item.delete()


def create_delivery(item: DeliveryItem) -> bool:
    """Store a new delivery; False when it exists already (the same event redelivered by SQS)."""
    return save_if(item, DeliveryItem.pk.does_not_exist())


def get_delivery(tenant_id: str, webhook_id: str, delivery_id: str) -> DeliveryItem | None:
    try:
        return DeliveryItem.get(deliveries_pk(tenant_id, webhook_id), delivery_sk(delivery_id), consistent_read=True)
    except DeliveryItem.DoesNotExist:
        return None


def save_delivery(item: DeliveryItem) -> None:
    item.save()


def page_deliveries(
    tenant_id: str, webhook_id: str, limit: int, after_sk: str | None
) -> tuple[list[DeliveryItem], str | None]:
    """Up to `limit` deliveries of one endpoint, newest first, and the sort key to continue after (or None)."""
    pk = deliveries_pk(tenant_id, webhook_id)
    return page_of(DeliveryItem, pk, DELIVERY_PREFIX, limit, after_sk, newest_first=True)
