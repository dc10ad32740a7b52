"""How a refused code lookup (``TooManyLookups``) reads on a page: the storefront's
balance check and the wallet's claim by code say it the same way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpResponse
from django.utils import timezone


def throttled_context(retry_after: int, *, reason: str = "") -> dict[str, Any]:
    """``throttled``, ``throttle_reason`` (who is paused, and why), ``minutes`` (rounded
    up: never promise too early) and ``retry_at``."""
    return {
        "throttled": True,
        "throttle_reason": reason,
        "minutes": max(1, -(-retry_after // 60)),
        "retry_at": timezone.now() + timedelta(seconds=retry_after),
    }


def set_retry_after(response: HttpResponse, retry_after: int) -> HttpResponse:
    response["Retry-After"] = str(retry_after)
    return response
