"""JSON logs and EMF metrics with Powertools: one middleware logs every invocation and flushes its metrics.

Powertools is imported on the first log line or metric, not with `app`: its import costs about as
much as the rest of our own code (docs/observability.md), and the cold-start bar measures `import app`.

- API calls: one line `api call` per request with request id, tenant id (once the key is known),
  route, method, status and duration; every other line logged during the request by a chalicelib
  module carries the same request and tenant ids (a logging filter reads them from a context variable,
  which also keeps concurrent requests of the local server apart).
- Workers: one line `invocation` per SQS/schedule/stream invocation with its function and records;
  services add their own ids (webhook id, delivery id, import id) with `log_context` or `extra=`.
- Metrics: `count(name, n)` anywhere; the middleware flushes them as one EMF document per invocation.

Secrets never reach a log: no header, query string or body is logged, only the route pattern.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from chalice.app import Request, Response

from chalicelib.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

SERVICE = "contacts-api"
NAMESPACE = "ContactsApi"
PROJECT_LOGGER = "chalicelib"

# Keys added to every log line of the current invocation (request id, tenant id, ...).
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039
_tools: tuple[Logger, Metrics] | None = None


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _powertools() -> tuple[Logger, Metrics]:
    global _tools
    if _tools is None:
        from aws_lambda_powertools import Logger, Metrics

        logger = Logger(service=SERVICE, level=settings.log_level)
        handler = logger.registered_handler
        handler.addFilter(_ContextFilter())
        # chalicelib.* modules log with logging.getLogger(__name__): same JSON handler, same keys.
        project = logging.getLogger(PROJECT_LOGGER)
        project.handlers = [handler]
        project.setLevel(logger.log_level)
        project.propagate = False
        # Chalice's own logger (app.log, named like the app) is this logger: its plain-text handler goes,
        # so Chalice's "Caught exception" lines are JSON with the request's ids too.
        logging.getLogger(SERVICE).handlers = [handler]
        _tools = (logger, Metrics(namespace=NAMESPACE, service=SERVICE))
    return _tools


def logger() -> Logger:
    return _powertools()[0]


def count(name: str, value: float = 1) -> None:
    """Add to a Count metric of this invocation (flushed as EMF when the invocation ends)."""
    if value:
        from aws_lambda_powertools.metrics import MetricUnit

        _powertools()[1].add_metric(name=name, unit=MetricUnit.Count, value=value)


def bind(**keys: Any) -> None:
    """Add keys (e.g. tenant_id) to every log line for the rest of this invocation."""
    _context.set({**_context.get(), **keys})


@contextmanager
def log_context(**keys: Any) -> Iterator[None]:
    """Keys for the log lines inside the block only (e.g. one delivery of a batch)."""
    token = _context.set({**_context.get(), **keys})
    try:
        yield
    finally:
        _context.reset(token)


def _flush_metrics() -> None:
    metrics = _powertools()[1]
    if metrics.metric_set:
        metrics.flush_metrics()


def _request_id(request: Request) -> str | None:
    context = request.lambda_context
    found = getattr(context, "aws_request_id", None) or (request.context or {}).get("requestId")
    return str(found) if found else None


def log_invocations(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every event type: one structured line per invocation, then the metrics."""
    started = time.perf_counter()
    token = _context.set({})
    try:
        if isinstance(event, Request):
            return _log_api_call(event, get_response, started)
        return _log_worker(event, get_response, started)
    finally:
        _flush_metrics()
        _context.reset(token)


def _log_api_call(request: Request, get_response: Callable[[Request], Response], started: float) -> Response:
    bind(request_id=_request_id(request))
    status = 500
    try:
        response = get_response(request)
        status = response.status_code
        return response
    finally:
        logger().info(
            "api call",
            extra={
                "route": (request.context or {}).get("resourcePath"),
                "method": request.method,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )


def _log_worker(event: Any, get_response: Callable[[Any], Any], started: float) -> Any:
    context = getattr(event, "context", None)
    bind(
        request_id=getattr(context, "aws_request_id", None),
        function=getattr(context, "function_name", None),
    )
    raw = event.to_dict() if hasattr(event, "to_dict") else {}
    records = len(raw.get("Records") or []) if isinstance(raw, dict) else 0
    outcome = "error"
    try:
        result = get_response(event)
        outcome = "ok"
        return result
    finally:
        logger().info(
            "invocation",
            extra={
                "records": records,
                "outcome": outcome,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
