"""Which URLs a webhook may be sent to: https only, and never to the inside of the
network. A host is resolved and every address it names must be public, so a name that
points at loopback, a private or link-local range (the cloud metadata address) or a
reserved one is refused like the literal address. Settings may allow plain http and
loopback (the local stack and the tests do; the Docker setup does not).

The check runs when an endpoint is registered (a 422 with a stable ``code``) and again
before every delivery attempt (a name may be pointed elsewhere later). What remains is the
moment between that resolution and the HTTP client's own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from common.errors import Problem
from transaction_svc.settings import TransactionSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """What the deployment allows besides public https targets."""

    allow_http: bool = False
    allow_loopback: bool = False

    @classmethod
    def of(cls, settings: TransactionSettings) -> TargetPolicy:
        return cls(
            allow_http=settings.webhook_allow_http,
            allow_loopback=settings.webhook_allow_loopback,
        )


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int


def parse_target(url: str, policy: TargetPolicy) -> Target:
    """The host and port of ``url``, or a 422: not an absolute http(s) URL with a host
    (``webhook_url_invalid``), not https where the policy wants it (``webhook_url_not_https``)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise _invalid(url) from None
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.userinfo:
        raise _invalid(url)
    if parsed.scheme != "https" and not policy.allow_http:
        raise Problem(422, "webhook_url_not_https", "a webhook URL must use https")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Target(parsed.host, port)


def _invalid(url: str) -> Problem:
    return Problem(
        422,
        "webhook_url_invalid",
        "the webhook URL is not an absolute http(s) URL with a host and no credentials",
    )


def address_allowed(address: Address, policy: TargetPolicy) -> bool:
    """A public unicast address, or loopback where the policy allows it."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return policy.allow_loopback
    return address.is_global and not address.is_multicast


def refused(addresses: Iterable[Address], policy: TargetPolicy) -> list[Address]:
    """The addresses of a target the policy refuses (all must pass)."""
    return [a for a in addresses if not address_allowed(a, policy)]


async def resolve(target: Target) -> list[Address]:
    """Every address ``target.host`` resolves to (an IP literal: itself); [] if none."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        return []
    return sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)


async def check_target(url: str, policy: TargetPolicy) -> Target:
    """``url`` parsed and resolved, or a 422: as :func:`parse_target`, a host that does not
    resolve (``webhook_host_unresolvable``), one with a refused address
    (``webhook_target_refused``)."""
    target = parse_target(url, policy)
    addresses = await resolve(target)
    if not addresses:
        raise Problem(422, "webhook_host_unresolvable", f"{target.host} does not resolve")
    if refused(addresses, policy):
        raise Problem(
            422,
            "webhook_target_refused",
            "the webhook host resolves to a loopback, private, link-local or reserved address",
        )
    return target
