"""Lazily created, cached boto3 clients: a warm Lambda reuses them, nothing heavy at import."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.settings import settings

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """A boto3 client (thread-safe, unlike resources); honours AWS_ENDPOINT_URL."""
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                import boto3
                from botocore.config import Config

                config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
                session: Any = boto3.session.Session()
                found = session.client(service, region_name=settings.region, config=config)
                _clients[service] = found
    return found


def reset_clients() -> None:
    """Forget cached clients (tests swap the endpoint or install event hooks)."""
    with _lock:
        _clients.clear()
