"""Drive the imports queue's worker (`import_worker`) in-process, as Lambda's SQS trigger would, with faults."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from typing import Any

import boto3
import requests

from chalicelib.settings import settings
from devstack.workers import LambdaContext, sqs_lambda_event


class WorkerKilled(BaseException):
    """Stands for the Lambda dying mid-chunk (timeout, out of memory): nothing after it runs."""


class ImportQueue:
    """Feeds the imports queue to the worker one message at a time until it is empty."""

    def __init__(self) -> None:
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=settings.imports_queue)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]
        self.arn = attributes["QueueArn"]
        self.handled: list[str] = []
        self.killed = 0
        self.duplicated: set[str] = set()
        self.failed = 0

    def drain(
        self,
        *,
        duplicate_chunks: bool = False,
        before: Callable[[str], None] | None = None,
        timeout: float = 120.0,
        redeliver_failures: bool = False,
    ) -> int:
        """Run every message (delayed ones too); `duplicate_chunks` delivers each chunk message a second time.

        A `WorkerKilled` raised by a fault makes the message visible again at once, as after
        a Lambda timeout (the queue's visibility timeout is skipped). With `redeliver_failures`, a
        message whose handler raised comes back the same way (as SQS redelivers it); otherwise the raise ends the drain.
        """
        from app import import_worker

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=1, AttributeNames=["All"])
            messages: list[dict[str, Any]] = answer.get("Messages", [])
            if not messages:
                counts = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
                names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed")
                if sum(int(counts[name]) for name in names) == 0:
                    break
                time.sleep(0.2)
                continue
            message = messages[0]
            body = message["Body"]
            if before is not None:
                before(body)
            try:
                import_worker(
                    sqs_lambda_event(messages, self.arn, "us-east-1"),
                    LambdaContext("import_worker", 900, time.monotonic()),
                )
            except WorkerKilled:
                self.killed += 1
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            except Exception:
                if not redeliver_failures:
                    raise
                self.failed += 1
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            self.handled.append(body)
            if duplicate_chunks and '"kind":"chunk"' in body and body not in self.duplicated:
                self.duplicated.add(body)
                self.sqs.send_message(QueueUrl=self.url, MessageBody=body)
        return len(self.handled)


def upload(started: dict[str, Any], content: bytes | str, *, compress: bool = False) -> None:
    """Send the file as the answer's presigned POST says (what `curl -F` does)."""
    data = content.encode() if isinstance(content, str) else content
    if compress:
        data = gzip.compress(data)
    form = started["upload"]
    answer = requests.post(form["url"], data=form["fields"], files={"file": ("contacts.csv", data)}, timeout=30)
    assert answer.status_code in (200, 204), answer.text
