"""Template context every page shares: the platform's name and what the nav shows."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    is_authenticated = bool(user is not None and user.is_authenticated)
    role = "anonymous"
    if is_authenticated:
        role = "admin" if user.is_staff else "member"  # type: ignore[union-attr]
    return {
        "PLATFORM_NAME": settings.PLATFORM_NAME,
        "nav_role": role,
        "current_merchant": getattr(request, "merchant", None),
        "current_membership": getattr(request, "membership", None),
    }
