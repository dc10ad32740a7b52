"""Counters in the shared cache (Redis when configured), for rate limits."""

from __future__ import annotations

from django.core.cache import cache


def cache_incr(key: str, *, ttl: int) -> int:
    """Add one to the counter ``key`` (created with ``ttl`` seconds to live) and return
    its new value. ``cache.incr`` is atomic, so parallel callers never share a value."""
    cache.add(key, 0, ttl)
    try:
        return int(cache.incr(key))
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, ttl)
        return 1
