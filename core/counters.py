"""Counters in the shared cache (Redis when configured), for rate limits."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

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


# For each (counter, other) pair of keys: create the counter at 0 with the time to live
# if it is missing, add one, and read the other counter. One round trip, atomically.
_JOIN = """
local joined = {}
for i = 1, #KEYS, 2 do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[1], 'NX')
  joined[#joined + 1] = redis.call('INCR', KEYS[i])
  joined[#joined + 1] = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
end
return joined
"""
# Take one off each counter that still exists (one that expired stays gone).
_LEAVE = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECR', KEYS[i]) end
end
return 0
"""
_scripts: dict[tuple[str, int], Any] = {}


def _redis_script(name: str, source: str) -> Any | None:
    """The Lua script on the cache's Redis (django-redis), or None when the cache is not
    Redis. Registered once per Redis client."""
    backend = getattr(cache, "client", None)
    if backend is None or not hasattr(backend, "get_client"):
        return None
    client = backend.get_client(write=True)
    script = _scripts.get((name, id(client)))
    if script is None:
        script = _scripts[(name, id(client))] = client.register_script(source)
    return script


def join_counters(pairs: Sequence[tuple[str, str]], *, ttl: int) -> list[tuple[int, int]]:
    """For each ``(counter, other)``: add one to ``counter`` (created with ``ttl``
    seconds to live) and read ``other``; returns ``(counter's new value, other's value)``
    per pair. On Redis it is one round trip for all the pairs; elsewhere, one call each."""
    script = _redis_script("join", _JOIN)
    if script is None:
        return [
            (cache_incr(counter, ttl=ttl), int(cache.get(other) or 0)) for counter, other in pairs
        ]
    keys = [cache.make_key(key) for pair in pairs for key in pair]
    values = script(keys=keys, args=[ttl])
    return [(int(values[i]), int(values[i + 1])) for i in range(0, len(values), 2)]


def leave_counters(keys: Sequence[str]) -> None:
    """Take one off each counter in ``keys`` that still exists; one that expired in the
    meantime is left gone. One round trip on Redis."""
    if not keys:
        return
    script = _redis_script("leave", _LEAVE)
    if script is None:
        for key in keys:
            with contextlib.suppress(ValueError):  # the window ended: nothing to give back
                cache.decr(key)
        return
    script(keys=[cache.make_key(key) for key in keys])


# --- Leaving later, on a round trip that is made anyway ------------------------------------
#
# A counter left at the end of a successful change can ride on the round trip that
# forgets the changed rows' cache entries once the change commits (``send_leaves_with``).
# Whatever no such round trip took is left when the request ends (``request_finished``):
# a request that was refused, or rolled back, still leaves every counter it joined.
# Outside a web request, and on a cache that is not Redis, counters are left at once.

_pending: list[str] = []
_in_request: ContextVar[bool] = ContextVar("counters_in_request", default=False)


def leave_counters_later(keys: Sequence[str]) -> None:
    """``leave_counters(keys)``, sent with this request's next cache round trip that
    takes them (``send_leaves_with``), or when the request ends."""
    if not keys:
        return
    if not _in_request.get() or _redis_script("leave", _LEAVE) is None:
        leave_counters(keys)
        return
    _pending.extend(keys)


def send_leaves_with(pipe: Any) -> None:
    """Add the counters waiting to be left to ``pipe`` (a redis-py pipeline about to be
    executed). The script goes as EVAL, not EVALSHA: a pipeline with a script in it
    would first ask Redis whether the script is loaded, a round trip of its own."""
    keys = _take_pending()
    if keys:
        pipe.eval(_LEAVE, len(keys), *(cache.make_key(key) for key in keys))


def _take_pending() -> list[str]:
    keys = _pending[:]
    del _pending[: len(keys)]
    return keys


def request_started(**kwargs: Any) -> None:
    _in_request.set(True)


def request_finished(**kwargs: Any) -> None:
    """The request is over: leave what no round trip took."""
    _in_request.set(False)
    keys = _take_pending()
    if keys:
        leave_counters(keys)
