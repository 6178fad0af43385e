"""Downloads an import's `fileUrl` into the imports bucket, with the webhooks' SSRF rules on every hop.

Every connection, redirects included, goes to an address `ssrf.check_url` resolved
and checked (never resolved twice, so DNS rebinding cannot slip in a private
address); https only, except loopback http on the dev stage. Credentials in the
URL are sent as Basic auth to that URL's host only, never to a host a redirect
leads to. The body streams into S3 (multipart) and stops at the size cap.
"""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator
from urllib.parse import unquote, urljoin, urlsplit

from chalicelib.repository import imports as repo
from chalicelib.services import ssrf
from chalicelib.services.webhook_http import USER_AGENT, pinned_connection
from chalicelib.settings import settings

MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 30.0
READ_SIZE = 1024 * 1024


class DownloadFailed(Exception):
    """The file could not be fetched: the import fails with `code` and `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_file_url(url: str) -> ssrf.Target:
    """The address rules for fileUrl (raises ssrf.UnsafeUrl): https, or loopback http on the dev stage."""
    return ssrf.check_url(url, allow_loopback_http=settings.imports_allow_loopback_http)


def _basic_auth(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.username is None:
        return None
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _body(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while True:
        chunk = response.read(READ_SIZE)
        if not chunk:
            return
        yield chunk


def download_to(url: str, key: str, max_bytes: int) -> int:
    """Fetch `url` into the imports bucket at `key`; answer the stored size. Raises DownloadFailed."""
    auth = _basic_auth(url)
    auth_host = urlsplit(url).hostname
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target = check_file_url(current)
        except ssrf.UnsafeUrl as refused:
            raise DownloadFailed("download_refused", f"fileUrl refused: {refused}") from None
        headers = {"user-agent": USER_AGENT, "accept-encoding": "identity"}
        if auth and target.host == auth_host:
            headers["authorization"] = auth
        connection = pinned_connection(target, TIMEOUT_SECONDS)
        try:
            connection.request("GET", target.path, headers=headers)
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("location"):
                current = urljoin(current, response.getheader("location") or "")
                continue
            if response.status != 200:
                raise DownloadFailed("download_failed", f"fileUrl answered HTTP {response.status}")
            declared = response.getheader("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadFailed("too_large", f"the file is larger than {max_bytes} bytes")
            try:
                return repo.upload_stream(key, _body(response), max_bytes)
            except repo.TooLarge:
                raise DownloadFailed("too_large", f"the file is larger than {max_bytes} bytes") from None
        except (OSError, http.client.HTTPException) as error:
            raise DownloadFailed(
                "download_failed", f"fileUrl could not be read: {type(error).__name__}: {error}"
            ) from None
        finally:
            connection.close()
    raise DownloadFailed("download_failed", f"more than {MAX_REDIRECTS} redirects")
