"""Signing (Standard Webhooks) and the HTTP POST of one delivery to an address already checked by `ssrf`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.services.ssrf import Target

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = "contacts-api-webhooks/1"
MAX_ERROR_LENGTH = 500


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: `v1,` + base64 HMAC-SHA256 of "id.timestamp.body" under the decoded secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


@dataclass(frozen=True)
class HttpResult:
    status: int | None  # None when no answer came (refused, timed out, TLS error)
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Transport = Callable[[Target, dict[str, str], bytes, float], HttpResult]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address while the Host header names the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address; the certificate is verified against the URL's host name (SNI too)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def http_post(target: Target, headers: dict[str, str], body: bytes, timeout: float) -> HttpResult:
    """POST once; http.client follows no redirects, so a 3xx is an answer like any non-2xx."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, timeout)
    else:
        connection = _PinnedHTTPConnection(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # a little of the body, so the connection closes cleanly
        return HttpResult(response.status, None if 200 <= response.status < 300 else f"HTTP {response.status}")
    except (OSError, http.client.HTTPException) as error:
        return HttpResult(None, (f"{type(error).__name__}: {error}")[:MAX_ERROR_LENGTH])
    finally:
        connection.close()


def pinned_connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    """A connection to the address `ssrf.check_url` checked (also used by imports' fileUrl downloads)."""
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, timeout)
    return _PinnedHTTPConnection(target, timeout)
