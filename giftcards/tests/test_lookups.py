"""Guessing codes makes no progress (GC-5): failures are counted per client and brake."""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches
from django.test import override_settings

from giftcards import codes
from giftcards.exceptions import CardNotFound, TooManyLookups
from giftcards.lookups import LookupClient, check_allowed, find_card_by_code
from giftcards.models import FailedCodeLookup, LookupChannel
from giftcards.tests.helpers import issue
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


def _guess(client: LookupClient, times: int) -> None:
    for _ in range(times):
        with pytest.raises(CardNotFound):
            find_card_by_code(client=client, code=codes.generate())


def test_a_client_is_stopped_after_the_limit(merchant: Merchant, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 4
    client = LookupClient(merchant=merchant, channel=LookupChannel.TILL, ip_address="10.0.0.1")
    _guess(client, 4)
    real = issue(merchant).code
    with pytest.raises(TooManyLookups) as excinfo:
        find_card_by_code(client=client, code=real)  # even a right code waits
    assert excinfo.value.status == 429
    assert excinfo.value.retry_after >= 1
    assert FailedCodeLookup.objects.filter(channel="till").count() == 4


def test_successful_lookups_do_not_count(merchant: Merchant, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 2
    client = LookupClient(merchant=merchant, channel=LookupChannel.API, ip_address="10.0.0.2")
    code = issue(merchant).code
    for _ in range(10):
        find_card_by_code(client=client, code=code)
    check_allowed(client)


def test_the_storefront_also_brakes_per_merchant(merchant: Merchant, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 100
    settings.GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT = 6
    for n in range(6):  # six different addresses, one guess each
        _guess(
            LookupClient(
                merchant=merchant, channel=LookupChannel.STOREFRONT, ip_address=f"10.0.1.{n}"
            ),
            1,
        )
    fresh = LookupClient(merchant=merchant, channel=LookupChannel.STOREFRONT, ip_address="10.0.9.9")
    with pytest.raises(TooManyLookups):
        check_allowed(fresh)
    staff = LookupClient(merchant=merchant, channel=LookupChannel.TILL, ip_address="10.0.9.9")
    check_allowed(staff)  # the till is braked per person, not per merchant


def test_the_window_resets(merchant: Merchant, settings) -> None:
    import time_machine

    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 1
    settings.GIFTCARD_LOOKUP_WINDOW_SECONDS = 60
    client = LookupClient(merchant=merchant, channel=LookupChannel.API, ip_address="10.0.0.3")
    with time_machine.travel("2026-11-25 10:00:05+00:00", tick=False):
        _guess(client, 1)
        with pytest.raises(TooManyLookups) as excinfo:
            check_allowed(client)
        assert excinfo.value.retry_after == 55
    with time_machine.travel("2026-11-25 10:01:01+00:00", tick=False):
        check_allowed(client)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set (CI sets it)")
def test_counters_live_in_redis_when_configured(merchant: Merchant, settings) -> None:
    redis_cache = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-{os.getpid()}",
        }
    }
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 3
    with override_settings(CACHES=redis_cache):
        caches["default"].clear()
        client = LookupClient(merchant=merchant, channel=LookupChannel.API, ip_address="10.0.0.4")
        _guess(client, 3)
        with pytest.raises(TooManyLookups):
            check_allowed(client)
        backend = type(caches["default"]).__module__
        assert backend.startswith("django_redis")
        caches["default"].clear()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set (CI sets it)")
def test_card_cache_invalidation_works_on_redis(merchant: Merchant) -> None:
    from django.db import transaction

    from giftcards import cache as card_cache

    redis_cache = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-inv-{os.getpid()}",
        }
    }
    with override_settings(CACHES=redis_cache):
        cache = caches["default"]
        key = card_cache.card_key(merchant.pk, "gc_x")
        cache.set(key, {"balance": 1})
        before = card_cache.list_version(merchant.pk)
        with transaction.atomic():
            card_cache.invalidate_card_on_commit(merchant.pk, "gc_x")
        # pytest-django's test transaction keeps on_commit pending; run it by hand.
        for _, callback, _ in transaction.get_connection().run_on_commit:
            callback()
        assert cache.get(key) is None
        assert card_cache.list_version(merchant.pk) != before
        cache.clear()
