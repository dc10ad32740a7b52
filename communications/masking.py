"""How recipients appear in logs and lists: enough to recognise, not enough to use."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def mask(channel: str, address: str) -> str:
    if channel == "email" and "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if channel == "sms":
        digits = address.strip()
        return f"{digits[:3]}*****{digits[-2:]}" if len(digits) > 5 else "*****"
    if channel == "push":
        return "device"
    return "***"


def digest(channel: str, address: str) -> str:
    """A keyed digest of the recipient, to count and find messages without storing it."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(
        key, f"{channel}:{address.strip().lower()}".encode(), hashlib.sha256
    ).hexdigest()
