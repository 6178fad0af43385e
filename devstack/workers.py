"""Runs the SQS-triggered handlers locally: Chalice's local server serves only HTTP routes.

A poller thread long-polls the queue on the embedded AWS, hands each batch to
the same handler function Lambda would call, with the event Lambda sends for
an SQS trigger, and deletes the batch once the handler returned (Lambda's own
contract: an exception leaves the batch to come back after the visibility
timeout, and to the dead-letter queue after maxReceiveCount).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.calls import mark_worker

log = logging.getLogger("devstack.workers")


def sqs_lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event an SQS trigger gives a Lambda function, from ReceiveMessage's messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass
class LambdaContext:
    """The part of Lambda's context object handlers use."""

    function_name: str
    timeout_seconds: float
    started: float = 0.0
    aws_request_id: str = ""
    memory_limit_in_mb: int = 1024

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self.started + self.timeout_seconds - time.monotonic()) * 1000)


class SqsPoller:
    """Feeds one queue to one handler, `batch_size` messages at a time, until stopped."""

    def __init__(
        self,
        sqs: Any,
        queue_name: str,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        function_name: str,
        batch_size: int = 10,
        timeout_seconds: float = 300,
        wait_seconds: int = 1,
        role: str | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url: str = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self.queue_arn: str = attributes["QueueArn"]
        self.region: str = sqs.meta.region_name
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.timeout_seconds = timeout_seconds
        self.wait_seconds = wait_seconds
        self.role = role
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs:{queue_name}", daemon=True)

    def start(self) -> SqsPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.wait_seconds + 5)

    def poll_once(self) -> int:
        """Receive one batch (respecting DelaySeconds), run the handler, delete it; answer its size."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        event = sqs_lambda_event(messages, self.queue_arn, self.region)
        context = LambdaContext(self.function_name, self.timeout_seconds, time.monotonic(), str(uuid.uuid4()))
        try:
            self.handler(event, context)
        except Exception:
            log.exception("%s raised: the batch comes back after the visibility timeout", self.function_name)
            return len(messages)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return len(messages)

    def _run(self) -> None:
        if self.role:
            mark_worker(self.role)
        else:
            mark_worker()
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling %s failed; retrying", self.queue_url)
                self._stop.wait(1)


def scheduled_event(rule_name: str, region: str, account: str = "123456789012") -> dict[str, Any]:
    """The event EventBridge gives a Lambda for a schedule rule (what chalice's generate_cw_event builds)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule_name}"],
        "detail": {},
    }


class ScheduleTimer:
    """Runs one scheduled handler every `every_seconds`, and at once when `trigger()` is called (SIGUSR2)."""

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        function_name: str,
        every_seconds: float,
        region: str,
        timeout_seconds: float = 300,
    ) -> None:
        self.handler = handler
        self.function_name = function_name
        self.every_seconds = every_seconds
        self.region = region
        self.timeout_seconds = timeout_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule:{function_name}", daemon=True)

    def start(self) -> ScheduleTimer:
        self._thread.start()
        return self

    def trigger(self, *_: Any) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def run_once(self) -> Any:
        event = scheduled_event(f"contacts-api-dev-{self.function_name}-event", self.region)
        context = LambdaContext(self.function_name, self.timeout_seconds, time.monotonic(), str(uuid.uuid4()))
        result = self.handler(event, context)
        log.info("%s ran: %s", self.function_name, result)
        return result

    def _run(self) -> None:
        mark_worker()
        while not self._stop.is_set():
            self._wake.wait(self.every_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:
                log.exception("%s raised", self.function_name)
