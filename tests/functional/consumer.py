"""Run the relay and the events queue's consumer (the `deliver_webhooks` SQS handler) in-process, as Lambda would.

Events come from the contacts table's stream and activity from the events, both
asynchronously, so functional tests say explicitly when they run: after
`consume_events()` the relay has handed every committed change on and the
timeline and deliveries are up to date.
"""

from __future__ import annotations

import time
from typing import Any

import boto3

from chalicelib.settings import settings
from devstack.workers import LambdaContext, sqs_lambda_event
from tests.functional.stream import pump_relay


def consume_events(timeout: float = 10.0) -> int:
    """Pump the relay, then feed every message of the events queue (delayed retries included) to the handler;
    answer how many messages."""
    from app import deliver_webhooks

    pump_relay()
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.events_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handled = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages: list[dict[str, Any]] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            if sum(int(counts[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed")) == 0:
                break
            time.sleep(0.2)
            continue
        deliver_webhooks(
            sqs_lambda_event(messages, arn, "us-east-1"), LambdaContext("deliver_webhooks", 300, time.monotonic())
        )
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        handled += len(messages)
    return handled


def activity_items(contact_id: str | None = None) -> list[dict[str, Any]]:
    """Raw items of the activity table (a test-side scan), optionally of one contact."""
    dynamodb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=settings.activity_table):
        items.extend(page["Items"])
    if contact_id is not None:
        items = [item for item in items if item["pk"]["S"].endswith(f"#{contact_id}")]
    return items
