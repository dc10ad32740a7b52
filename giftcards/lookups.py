"""Finding a card by its code, with the brakes that make guessing pointless (GC-5).

A mistyped code is caught by its check symbol and refused without a lookup. Failed
lookups of well-formed codes are counted per client (API key, signed-in user, or IP address) in a
fixed window, in the cache (Redis when configured, so every web process shares the
count). Past the limit, lookups are refused with 429 and ``Retry-After`` before the
database is touched. The public storefront also counts per merchant, against guessing
spread over many addresses. Every failure is recorded as a ``FailedCodeLookup`` row.

With 10 failures per 10 minutes per client, one client tries at most 1,440 codes a day
against a space of 2^75: finding one card would take longer than the universe is old.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.models import User
from giftcards import codes
from giftcards.exceptions import CardNotFound, TooManyLookups
from giftcards.locks import lock_card_by_digest
from giftcards.models import FailedCodeLookup, GiftCard, LookupChannel
from merchants.models import ApiKey, Merchant


@dataclass(frozen=True)
class LookupClient:
    """Who is looking a code up, and through which door."""

    merchant: Merchant
    channel: str
    ip_address: str | None = None
    api_key: ApiKey | None = None
    user: User | None = None

    def counter_ids(self) -> list[str]:
        ids: list[str] = []
        if self.api_key is not None:
            ids.append(f"key:{self.api_key.pk}")
        elif self.user is not None:
            ids.append(f"user:{self.user.pk}")
        if self.ip_address:
            ids.append(f"ip:{self.ip_address}")
        if self.channel == LookupChannel.STOREFRONT:
            ids.append(f"merchant:{self.merchant.pk}")
        return ids


def _limit_for(counter_id: str) -> int:
    if counter_id.startswith("merchant:"):
        return int(settings.GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT)
    return int(settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT)


def _window() -> tuple[int, int]:
    size = int(settings.GIFTCARD_LOOKUP_WINDOW_SECONDS)
    now = int(time.time())
    start = now - now % size
    return start, start + size - now


def _key(counter_id: str, window_start: int) -> str:
    return f"gc:lookupfail:{counter_id}:{window_start}"


def check_allowed(client: LookupClient) -> None:
    """Raise TooManyLookups when any of the client's counters is spent."""
    start, remaining = _window()
    keys = {cid: _key(cid, start) for cid in client.counter_ids()}
    counts = cache.get_many(list(keys.values()))
    for counter_id, key in keys.items():
        if int(counts.get(key, 0)) >= _limit_for(counter_id):
            raise TooManyLookups(retry_after=max(1, remaining))


def record_failure(client: LookupClient) -> None:
    start, remaining = _window()
    for counter_id in client.counter_ids():
        key = _key(counter_id, start)
        cache.add(key, 0, remaining + 5)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, remaining + 5)
    FailedCodeLookup.objects.create(
        merchant=client.merchant,
        channel=client.channel,
        ip_address=client.ip_address,
        api_key=client.api_key,
        user=client.user,
    )


def _normalised_or_typo(code: str) -> str:
    try:
        return codes.normalise(code)
    except codes.InvalidCode:
        # The check symbol caught a typo without a database lookup. Not counted: it
        # cannot match any card, and anyone guessing computes valid check symbols anyway.
        raise CardNotFound(
            "That is not a valid gift card code: check it for typos (16 characters)."
        ) from None


def lock_card_by_code(*, client: LookupClient, code: str) -> GiftCard:
    """Inside the caller's transaction: find and lock the card in one query. An unknown
    code is counted once the transaction has rolled back (``after_rollback``)."""
    check_allowed(client)
    card = lock_card_by_digest(
        merchant=client.merchant, code_digest=codes.digest(_normalised_or_typo(code))
    )
    if card is None:
        error = CardNotFound("No gift card matches that code.")
        error.after_rollback.append(lambda: record_failure(client))
        raise error
    return card


def find_card_by_code(*, client: LookupClient, code: str) -> GiftCard:
    """The merchant's card with this code, or CardNotFound (and one more failure)."""
    check_allowed(client)
    normalised = _normalised_or_typo(code)
    card = (
        GiftCard.objects.filter(merchant=client.merchant, code_digest=codes.digest(normalised))
        .select_related("product")
        .first()
    )
    if card is None:
        record_failure(client)
        raise CardNotFound("No gift card matches that code.")
    return card
