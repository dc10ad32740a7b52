"""The client's address, as far as our own proxies vouch for it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    proxy_count = int(getattr(settings, "AXES_IPWARE_PROXY_COUNT", 0) or 0)
    if proxy_count:
        ip, _ = get_client_ip(request, proxy_count=proxy_count)
    else:
        ip = request.META.get("REMOTE_ADDR")
    return ip or None
