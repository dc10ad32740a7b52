"""The client's address, as far as our own proxies vouch for it.

Every proxy appends the address it received the request from to ``X-Forwarded-For``;
whatever stands to the left of what our proxies appended was written by the client and
proves nothing. With ``TRUSTED_PROXY_COUNT = N`` the client is therefore the N-th entry
from the right: the one the outermost trusted proxy appended. With 0 the header is
ignored and the socket's peer is the client.

This is the only place that decides it: throttles, django-axes
(``AXES_CLIENT_IP_CALLABLE``), allauth's rate limits (its adapter), the logs and
``FailedCodeLookup`` all call ``client_ip``.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _clean(value: str) -> str | None:
    """The address in one header entry or ``REMOTE_ADDR``, without a port or brackets;
    ``None`` when it is not an IP address."""
    value = value.strip()
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def forwarded_for(request: HttpRequest) -> list[str]:
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return [entry.strip() for entry in header.split(",") if entry.strip()]


def client_ip(request: HttpRequest) -> str | None:
    """The address the outermost trusted proxy saw the request come from, or the socket
    peer when no proxy is trusted (or the request did not pass through them all)."""
    remote = _clean(str(request.META.get("REMOTE_ADDR") or ""))
    trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if trusted <= 0:
        return remote
    entries = forwarded_for(request)
    if len(entries) < trusted:
        # Fewer entries than proxies: the request reached us by another path (a health
        # probe, an internal call), so the peer is all we know.
        return remote
    # A trusted proxy wrote this entry; if it is not an address the proxy is broken, and
    # counting by the proxy's own address is the safe (stricter) answer.
    return _clean(entries[-trusted]) or remote
