"""Where a server may send requests: refusing agent URLs that point inside the network (SSRF).

A URL registered over the API could name the server's own loopback, a private service, or the
cloud metadata endpoint (169.254.169.254) and make the server fetch it. A `NetGuard` refuses
loopback, private, link-local, multicast, reserved and unspecified addresses, unless the host
is on its allow-list. It checks the host as written and every address DNS gives for it, and
`pin` hands back the address that was checked, so that a second lookup at connect time (DNS
rebinding) cannot swap in another; each redirect is checked again by its caller.

A workflow file run by `podium run` is trusted like its handlers: no guard applies there. The
server builds the agents it is sent inside `guarding(guard)`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlsplit

from ..errors import ValidationError

__all__ = ["NetGuard", "active_guard", "guarding"]

_GUARD: ContextVar[NetGuard | None] = ContextVar("podium_net_guard", default=None)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _inside(ip: IP) -> str | None:
    """Why ``ip`` is not a public address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, why in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address (cloud metadata lives there)"),
        ("is_private", "a private address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_unspecified", "an unspecified address"),
    ):
        if getattr(ip, test):
            return why
    return None


class NetGuard:
    """Checks URLs an agent will be sent tasks at. ``allow`` lists hosts (names, addresses or
    networks such as ``10.0.0.0/8``) that may be private all the same."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry.rstrip("."))

    def _allowed_ip(self, ip: IP) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)

    def _parse(self, url: str, field: str) -> tuple[str, int | None, IP | None, bool]:
        """``(host, port, literal address or None, allow-listed by name)``."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ValidationError(
                f"{field} {url[:200]!r} is not a URL: {exc}.", field=field
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(
                f"{field} {url[:200]!r} must be an http:// or https:// URL with a host.",
                field=field,
            )
        host = parts.hostname.rstrip(".").lower()
        try:
            literal: IP | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        return host, port, literal, host in self.names

    def _judge(self, url: str, field: str, host: str, addresses: list[IP], literal: bool) -> str:
        for ip in addresses:
            why = _inside(ip)
            if why is not None and not self._allowed_ip(ip):
                shown = host if literal else f"{host} ({ip})"
                raise ValidationError(
                    f"{field} {url[:200]!r} points at {shown}, {why}: agents may not be sent "
                    "requests inside the server's network. Use a public address, or put the "
                    "host on the server's allow-list (--allow-host).",
                    field=field,
                )
        return str(addresses[0])

    def _unresolved(self, url: str, field: str, host: str, exc: OSError) -> ValidationError:
        return ValidationError(
            f"{field} {url[:200]!r}: cannot resolve host {host!r} ({exc}).", field=field
        )

    def check(self, url: str, *, field: str = "url") -> tuple[str, str]:
        """``(host, address)``: the URL's host and the checked address to connect to (the
        host itself when it is allow-listed by name). A `ValidationError` naming ``field``
        when the URL is not http(s) or points inside the network."""
        host, port, literal, named = self._parse(url, field)
        if named:
            return host, host
        if literal is not None:
            return host, self._judge(url, field, host, [literal], True)
        try:
            infos = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise self._unresolved(url, field, host, exc) from None
        return host, self._judge(url, field, host, _addresses(infos), False)

    async def acheck(self, url: str, *, field: str = "url") -> tuple[str, str]:
        """`check` without blocking the event loop on DNS."""
        import asyncio

        host, port, literal, named = self._parse(url, field)
        if named:
            return host, host
        if literal is not None:
            return host, self._judge(url, field, host, [literal], True)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise self._unresolved(url, field, host, exc) from None
        return host, self._judge(url, field, host, _addresses(infos), False)


def _addresses(infos: list[tuple[object, ...]]) -> list[IP]:
    return [ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos]  # type: ignore[index]


def active_guard() -> NetGuard | None:
    """The guard set by `guarding` around the current code, if any."""
    return _GUARD.get()


@contextmanager
def guarding(guard: NetGuard | None) -> Iterator[None]:
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)
