"""The error envelope every 4xx/5xx answer carries (chalicelib/errors.py builds it; this documents it)."""

from __future__ import annotations

from chalicelib.schemas.common import Model


class ErrorDetail(Model):
    field: str
    message: str


class ErrorInfo(Model):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorEnvelope(Model):
    error: ErrorInfo
