"""Pydantic models: the one definition of every body that crosses a boundary (HTTP, queues, webhooks).

One module per service; HTTP bodies apart from domain events and queue messages (`events`).
"""
