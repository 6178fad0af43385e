"""The one place that reads the environment; every other module imports `settings`."""

from __future__ import annotations

import os
from dataclasses import dataclass

STAGE_DEFAULT_TABLES = {
    "CONTACTS_TABLE": "fli-dev-contacts",
    "CONTACT_KEYS_TABLE": "fli-dev-contact-keys",
    "MEMBERSHIPS_TABLE": "fli-dev-memberships",
    "META_TABLE": "fli-dev-meta",
    "ACTIVITY_TABLE": "fli-dev-activity",
    "CHANGES_TABLE": "fli-dev-contact-changes",
}
STAGE_DEFAULT_QUEUES = {
    "EVENTS_QUEUE": "fli-dev-events",
    "EVENTS_DLQ": "fli-dev-events-dlq",
    "STREAM_PARKED_QUEUE": "fli-dev-stream-parked",
    "IMPORTS_QUEUE": "fli-dev-imports",
    "IMPORTS_DLQ": "fli-dev-imports-dlq",
}
# What `@app.on_dynamodb_record` is given at import time. The merged template replaces it with
# `Fn::GetAtt [ContactsTable, StreamArn]` (the table's stream gets a new ARN whenever it is re-enabled),
# and the local stack reads whatever stream the table has; so this only has to look like an ARN.
CONTACTS_STREAM_ARN_PLACEHOLDER = "arn:aws:dynamodb:us-east-1:000000000000:table/fli-dev-contacts/stream/placeholder"
# Seconds to wait after failed attempt n (1-based) before attempt n+1: 8 attempts over about 27 hours.
PRODUCTION_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    contacts_table: str
    contact_keys_table: str
    memberships_table: str
    meta_table: str
    activity_table: str
    changes_table: str
    # The changes feed answers only entries older than this: longer than a feed write may take (docs/changes-feed.md).
    feed_settle_seconds: float
    events_queue: str
    events_dlq: str
    # Stream records the relay could not turn into changes or events: kept for operators (docs/webhooks.md).
    stream_parked_queue: str
    contacts_stream_arn: str
    # Dev stage only: let webhooks reach http:// on loopback so local receivers work.
    webhooks_allow_loopback_http: bool
    webhook_retry_schedule: tuple[int, ...]
    webhook_timeout_seconds: float
    widget_bucket: str
    # The verified SES identity confirmation e-mails come from.
    ses_sender: str
    # Base URL of this API as the public sees it (for links in e-mails); derived from the request when unset.
    public_api_url: str | None
    # Level of the JSON logs (chalicelib/observability.py).
    log_level: str
    # Imports (docs/imports.md): the bucket files land in, the worker's queue, rows per chunk.
    imports_bucket: str
    imports_queue: str
    imports_dlq: str
    import_chunk_rows: int
    # Dev stage only: fileUrl may be http:// on loopback (a local file server).
    imports_allow_loopback_http: bool

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ

        def table(name: str) -> str:
            return env.get(name) or STAGE_DEFAULT_TABLES[name]

        return cls(
            stage=env.get("STAGE", "dev"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            contacts_table=table("CONTACTS_TABLE"),
            contact_keys_table=table("CONTACT_KEYS_TABLE"),
            memberships_table=table("MEMBERSHIPS_TABLE"),
            meta_table=table("META_TABLE"),
            activity_table=table("ACTIVITY_TABLE"),
            changes_table=table("CHANGES_TABLE"),
            feed_settle_seconds=float(env.get("FEED_SETTLE_SECONDS") or 5),
            events_queue=env.get("EVENTS_QUEUE") or STAGE_DEFAULT_QUEUES["EVENTS_QUEUE"],
            events_dlq=env.get("EVENTS_DLQ") or STAGE_DEFAULT_QUEUES["EVENTS_DLQ"],
            stream_parked_queue=env.get("STREAM_PARKED_QUEUE") or STAGE_DEFAULT_QUEUES["STREAM_PARKED_QUEUE"],
            contacts_stream_arn=env.get("CONTACTS_STREAM_ARN") or CONTACTS_STREAM_ARN_PLACEHOLDER,
            webhooks_allow_loopback_http=env.get("WEBHOOKS_ALLOW_LOOPBACK_HTTP", "").lower() == "true",
            webhook_retry_schedule=_schedule(env.get("WEBHOOK_RETRY_SCHEDULE")),
            webhook_timeout_seconds=float(env.get("WEBHOOK_TIMEOUT_SECONDS") or 10),
            widget_bucket=env.get("WIDGET_BUCKET") or "fli-dev-widget",
            ses_sender=env.get("SES_SENDER") or "no-reply@contacts.local",
            public_api_url=(env.get("PUBLIC_API_URL") or "").rstrip("/") or None,
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            imports_bucket=env.get("IMPORTS_BUCKET") or "fli-dev-imports",
            imports_queue=env.get("IMPORTS_QUEUE") or STAGE_DEFAULT_QUEUES["IMPORTS_QUEUE"],
            imports_dlq=env.get("IMPORTS_DLQ") or STAGE_DEFAULT_QUEUES["IMPORTS_DLQ"],
            import_chunk_rows=int(env.get("IMPORT_CHUNK_ROWS") or 10_000),
            imports_allow_loopback_http=env.get("IMPORTS_ALLOW_LOOPBACK_HTTP", "").lower() == "true",
        )


def _schedule(raw: str | None) -> tuple[int, ...]:
    """WEBHOOK_RETRY_SCHEDULE="1,2" (seconds between attempts) shortens retries for tests."""
    if not raw:
        return PRODUCTION_RETRY_SCHEDULE
    return tuple(int(part) for part in raw.split(",") if part.strip())


settings = Settings.from_env()
