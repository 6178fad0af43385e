"""SQS access: send many message bodies with as few SendMessageBatch calls as SQS allows."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.repository.aws import client

log = logging.getLogger(__name__)

MAX_BATCH_MESSAGES = 10
# SQS limits one message and one SendMessageBatch request (all its messages together) to 256 KiB.
MAX_REQUEST_BYTES = 256 * 1024
MAX_DELAY_SECONDS = 900

_urls: dict[str, str] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class OutgoingMessage:
    body: str
    delay_seconds: int = 0


class SendFailed(Exception):
    """SQS refused some messages even after retrying them; `bodies` lists which."""

    def __init__(self, bodies: list[str]) -> None:
        super().__init__(f"{len(bodies)} messages could not be sent")
        self.bodies = bodies


def queue_url(name: str) -> str:
    found = _urls.get(name)
    if found is None:
        found = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        with _lock:
            _urls[name] = found
    return found


def plan_batches(messages: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
    """Group messages into SendMessageBatch calls: at most 10 each and 256 KiB in total."""
    batches: list[list[OutgoingMessage]] = []
    current: list[OutgoingMessage] = []
    size = 0
    for message in messages:
        length = len(message.body.encode())
        if length > MAX_REQUEST_BYTES:
            raise ValueError(f"an SQS message of {length} bytes exceeds {MAX_REQUEST_BYTES}")
        if current and (len(current) == MAX_BATCH_MESSAGES or size + length > MAX_REQUEST_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(message)
        size += length
    if current:
        batches.append(current)
    return batches


def send(queue_name: str, messages: Sequence[OutgoingMessage], attempts: int = 3) -> int:
    """Send every message; answer the number of SendMessageBatch calls. Raise SendFailed for what SQS kept refusing."""
    url = queue_url(queue_name)
    calls = 0
    for batch in plan_batches(messages):
        pending = {str(i): m for i, m in enumerate(batch)}
        for _ in range(attempts):
            entries = [
                {"Id": i, "MessageBody": m.body, "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, m.delay_seconds))}
                for i, m in pending.items()
            ]
            answer = client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
            calls += 1
            failed = {f["Id"] for f in answer.get("Failed", [])}
            if failed:
                log.warning("SQS refused %d of %d messages; retrying them", len(failed), len(entries))
            pending = {i: m for i, m in pending.items() if i in failed}
            if not pending:
                break
        if pending:
            raise SendFailed([m.body for m in pending.values()])
    return calls
