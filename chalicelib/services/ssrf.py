"""SSRF guard for webhook URLs: which schemes and addresses a webhook may reach.

Checked at registration and again at every delivery: the host is resolved once,
every address it resolves to must be public, and the delivery then connects to
that checked address (never resolving a second time, so DNS rebinding cannot
slip a private address in between).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA = ipaddress.ip_address("169.254.169.254")
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeUrl(Exception):
    """The URL may not be called; the message says why (it goes into 422 details and delivery logs)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`) and what to ask for there."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, what goes on the request line
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver: Resolver = system_resolver


def set_resolver(resolver: Resolver | None) -> None:
    """Swap the DNS resolver (tests inject one that answers private addresses); None restores the system's."""
    global _resolver
    _resolver = resolver or system_resolver


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why this address may not be called, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return refusal(mapped, allow_loopback=allow_loopback)
    if address == METADATA:
        return "the cloud metadata address is not allowed"
    if address.is_link_local:
        return "link-local addresses are not allowed"
    if address.is_loopback:
        return None if allow_loopback else "loopback addresses are not allowed"
    if address.is_unspecified:
        return "the unspecified address is not allowed"
    if address.is_multicast:
        return "multicast addresses are not allowed"
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return "shared (CGNAT) addresses are not allowed"
    if address.is_private:
        return "private addresses are not allowed"
    if address.is_reserved or not address.is_global:
        return "reserved or non-public addresses are not allowed"
    return None


def _addresses(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    """The host itself when it is an IP literal, else every address DNS gives for it."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        resolved = resolver(host, port)
    except (OSError, UnicodeError):
        resolved = []
    if not resolved:
        raise UnsafeUrl(f"the host {host} does not resolve")
    return [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]


def check_url(url: str, *, allow_loopback_http: bool, resolver: Resolver | None = None) -> Target:
    """Resolve and check `url`; raise UnsafeUrl unless every address it resolves to may be called.

    `allow_loopback_http` (the dev stage only) lets http:// and https:// reach
    loopback, so local receivers work; link-local and metadata stay refused.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("the URL is not valid") from None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeUrl("the URL must be an absolute https URL")
    if parts.scheme == "http" and not allow_loopback_http:
        raise UnsafeUrl("the URL must use https")
    addresses = _addresses(host, port, resolver or _resolver)
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback_http)
        if reason:
            raise UnsafeUrl(f"{host} resolves to {address}: {reason}")
    if parts.scheme == "http" and not all(a.is_loopback for a in addresses):
        raise UnsafeUrl("the URL must use https (http only reaches loopback in the dev stage)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, str(addresses[0]))
