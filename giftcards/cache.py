"""Read caches for card and list lookups (GC-10), invalidated when a change commits.

The redemption path never reads from here: it always reads the locked row.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction

from core.counters import send_leaves_with

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
    invalidate_cards_on_commit([(merchant_id, public_id)])


def invalidate_cards_on_commit(cards: Iterable[tuple[int, str]]) -> None:
    """Forget these cards (merchant id, public id) and every list of their merchants once
    the change is committed: one round trip however many cards (a chunk of the expiry
    job, of a bulk issue)."""
    cards = list(cards)
    if not cards:
        return
    card_keys = [card_key(merchant_id, public_id) for merchant_id, public_id in cards]
    version_keys = list(dict.fromkeys(_list_version_key(merchant_id) for merchant_id, _ in cards))

    def invalidate() -> None:
        version = time.time_ns()
        redis = _redis_client()
        if redis is None:
            cache.delete_many(card_keys)
            cache.set_many(dict.fromkeys(version_keys, version), None)
            return
        # One round trip; django-redis stores integers unpickled. The lookup budgets this
        # request joined and is done with are left in it too (core.counters).
        pipe = redis.pipeline(transaction=False)
        pipe.delete(*(cache.make_key(key) for key in card_keys))
        for key in version_keys:
            pipe.set(cache.make_key(key), version)
        send_leaves_with(pipe)
        pipe.execute()

    # Robust: the change has committed, so a cache that is away now must not turn the
    # answer into an error (a client would retry a redemption that went through). The
    # entries it could not forget expire within their TTL.
    transaction.on_commit(invalidate, robust=True)


def _redis_client() -> Any:
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    return get_client(write=True) if get_client is not None else None
