"""Read caches for card and list lookups (GC-10), invalidated when a change commits.

The redemption path never reads from here: it always reads the locked row.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction

CARD_TTL = 5 * 60
LIST_TTL = 2 * 60


def card_key(merchant_id: int, public_id: str) -> str:
    return f"gc:card:{merchant_id}:{public_id}"


def _list_version_key(merchant_id: int) -> str:
    return f"gc:listver:{merchant_id}"


def list_version(merchant_id: int) -> str:
    version = cache.get(_list_version_key(merchant_id))
    if version is None:
        version = time.time_ns()
        cache.add(_list_version_key(merchant_id), version, None)
    return str(version)


def list_key(merchant_id: int, params: str) -> str:
    """One key per merchant, list version and query; the query is hashed so that the key
    stays short whatever the query (a cursor alone may be hundreds of characters)."""
    query = hashlib.blake2b(params.encode(), digest_size=16).hexdigest()
    return f"gc:list:{merchant_id}:{list_version(merchant_id)}:{query}"


def get(key: str) -> Any:
    return cache.get(key)


def put(key: str, value: Any, ttl: int) -> None:
    cache.set(key, value, ttl)


def invalidate_card_on_commit(merchant_id: int, public_id: str) -> None:
    """Forget the card and every list of the merchant once the change is committed."""

    def invalidate() -> None:
        card, version = card_key(merchant_id, public_id), _list_version_key(merchant_id)
        redis = _redis_client()
        if redis is None:
            cache.delete(card)
            cache.set(version, time.time_ns(), None)
            return
        # One round trip instead of two; django-redis stores integers unpickled.
        pipe = redis.pipeline(transaction=False)
        pipe.delete(cache.make_key(card))
        pipe.set(cache.make_key(version), time.time_ns())
        pipe.execute()

    # Robust: the change has committed, so a cache that is away now must not turn the
    # answer into an error (a client would retry a redemption that went through). The
    # entries it could not forget expire within their TTL.
    transaction.on_commit(invalidate, robust=True)


def _redis_client() -> Any:
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    return get_client(write=True) if get_client is not None else None
