"""Guessing codes makes no progress (GC-5), and nobody can spend anyone else's budget."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
import time_machine
from django.core.cache import caches
from django.test import override_settings

from accounts.models import User
from giftcards import codes, lookups
from giftcards.exceptions import CardNotFound, TooManyLookups
from giftcards.lookups import LookupClient, claim, find_card_by_code, remaining_budget
from giftcards.models import FailedCodeLookup, GiftCard, LookupChannel, Transaction
from giftcards.tests.helpers import issue
from merchants.models import ApiKey, Merchant
from tests.concurrency import in_threads
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

CAFE_WIFI = "203.0.113.80"


def _guess(client: LookupClient, times: int) -> None:
    for _ in range(times):
        with pytest.raises(CardNotFound):
            find_card_by_code(client=client, code=codes.generate())


def visitor(merchant: Merchant, *, session: str = "s1", ip: str = CAFE_WIFI) -> LookupClient:
    return LookupClient(
        merchant=merchant, channel=LookupChannel.STOREFRONT, ip_address=ip, session_key=session
    )


def till(merchant: Merchant, user: User, *, ip: str = CAFE_WIFI) -> LookupClient:
    return LookupClient(merchant=merchant, channel=LookupChannel.TILL, ip_address=ip, user=user)


def api(merchant: Merchant, key: ApiKey, *, ip: str = CAFE_WIFI) -> LookupClient:
    return LookupClient(merchant=merchant, channel=LookupChannel.API, ip_address=ip, api_key=key)


@pytest.fixture
def key(merchant: Merchant) -> ApiKey:
    return ApiKeyFactory(merchant=merchant, name="pos").api_key


def test_a_client_is_stopped_after_the_limit(merchant: Merchant, clerk: User, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 4
    client = till(merchant, clerk)
    _guess(client, 4)
    real = issue(merchant).code
    with pytest.raises(TooManyLookups) as excinfo:
        find_card_by_code(client=client, code=real)  # even a right code waits
    assert excinfo.value.status == 429
    assert excinfo.value.retry_after >= 1
    assert excinfo.value.scope == "user"
    assert "You have tried too many unknown codes" in excinfo.value.detail
    assert FailedCodeLookup.objects.filter(channel="till").count() == 4


def test_successful_lookups_do_not_count(merchant: Merchant, key: ApiKey, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 2
    client = api(merchant, key)
    code = issue(merchant).code
    for _ in range(10):
        find_card_by_code(client=client, code=code)
    assert remaining_budget(client) == 2


def test_a_typo_is_refused_without_spending_anything(merchant: Merchant, key: ApiKey) -> None:
    client = api(merchant, key)
    with pytest.raises(CardNotFound, match="typos"):
        find_card_by_code(client=client, code="ABCD-EFGH-JKMN-PQRS")
    assert remaining_budget(client) == 10
    assert not FailedCodeLookup.objects.exists()


def test_a_shopper_guessing_on_the_cafe_wifi_stops_only_themself(
    merchant: Merchant, clerk: User, key: ApiKey, settings
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 10
    shopper = visitor(merchant, session="guesser")
    _guess(shopper, 10)
    with pytest.raises(TooManyLookups) as excinfo:
        find_card_by_code(client=shopper, code=codes.generate())
    assert excinfo.value.scope == "visitor"
    assert "till" not in excinfo.value.detail

    real = issue(merchant).code
    # Same address: the till, the API key and another shopper are not braked.
    assert find_card_by_code(client=till(merchant, clerk), code=real)
    assert find_card_by_code(client=api(merchant, key), code=real)
    assert find_card_by_code(client=visitor(merchant, session="neighbour"), code=real)


def test_rotating_sessions_meets_the_address_budget(merchant: Merchant, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 2
    settings.GIFTCARD_LOOKUP_FAILURES_PER_ADDRESS = 5
    for n in range(5):
        _guess(visitor(merchant, session=f"fresh-{n}"), 1)
    with pytest.raises(TooManyLookups) as excinfo:
        find_card_by_code(client=visitor(merchant, session="fresh-again"), code=codes.generate())
    assert excinfo.value.scope == "address"
    assert "internet connection" in excinfo.value.detail
    # Another address is not affected.
    _guess(visitor(merchant, session="elsewhere", ip="198.51.100.7"), 1)


def test_the_merchants_anonymous_budget_never_stops_staff_or_keys(
    merchant: Merchant, other_merchant: Merchant, clerk: User, key: ApiKey, settings
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT = 6
    for n in range(6):  # six different addresses and sessions, one guess each
        _guess(visitor(merchant, session=f"v{n}", ip=f"10.0.1.{n}"), 1)
    with pytest.raises(TooManyLookups) as excinfo:
        find_card_by_code(
            client=visitor(merchant, session="new", ip="10.0.9.9"), code=codes.generate()
        )
    assert excinfo.value.scope == "merchant"
    assert merchant.name in excinfo.value.detail
    real = issue(merchant).code
    assert find_card_by_code(client=till(merchant, clerk, ip="10.0.9.9"), code=real)
    assert find_card_by_code(client=api(merchant, key, ip="10.0.9.9"), code=real)
    # Another merchant's storefront is not affected either.
    _guess(visitor(other_merchant, session="new", ip="10.0.9.9"), 1)


def test_the_wallet_counts_like_the_storefront(merchant: Merchant, user: User, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 3
    client = LookupClient(
        merchant=merchant, channel=LookupChannel.WALLET, ip_address=CAFE_WIFI, user=user
    )
    _guess(client, 3)
    with pytest.raises(TooManyLookups) as excinfo:
        find_card_by_code(client=client, code=codes.generate())
    assert excinfo.value.scope == "visitor"
    assert FailedCodeLookup.objects.filter(channel="wallet", user=user).count() == 3


def test_the_window_resets(merchant: Merchant, key: ApiKey, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 1
    settings.GIFTCARD_LOOKUP_WINDOW_SECONDS = 60
    client = api(merchant, key)
    with time_machine.travel("2026-11-25 10:00:05+00:00", tick=False):
        _guess(client, 1)
        with pytest.raises(TooManyLookups) as excinfo:
            claim(client)
        assert excinfo.value.retry_after == 55
    with time_machine.travel("2026-11-25 10:01:01+00:00", tick=False):
        claim(client).found()


def test_a_refusal_takes_nothing(merchant: Merchant, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 1
    settings.GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT = 50
    spent = visitor(merchant, session="spent")
    _guess(spent, 1)
    for _ in range(20):
        with pytest.raises(TooManyLookups):
            claim(spent)
    # The refused attempts did not eat into the address's or the merchant's budgets.
    assert remaining_budget(visitor(merchant, session="other")) == 1
    fresh_merchant_view = visitor(merchant, session="x", ip="198.51.100.1")
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 100
    settings.GIFTCARD_LOOKUP_FAILURES_PER_ADDRESS = 100
    assert remaining_budget(fresh_merchant_view) == 49


def _in_parallel(count: int, work: Any) -> list[Any]:
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        outcome = work()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_guesses_claim_at_most_the_budget(
    merchant: Merchant, key: ApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookups, "CLAIM_WAIT_SECONDS", 0.2)
    client = api(merchant, key)

    def guess() -> str:
        try:
            taken = claim(client)
        except TooManyLookups as refusal:
            return refusal.scope
        time.sleep(0.05)  # the database is asked while the place is held
        taken.not_found()
        return "looked up"

    outcomes = _in_parallel(30, guess)
    assert outcomes.count("looked up") == 10
    assert remaining_budget(client) == 0
    with pytest.raises(TooManyLookups) as excinfo:
        claim(client)
    assert excinfo.value.scope == "key"


def test_parallel_lookups_of_real_cards_wait_for_a_place_instead_of_failing(
    merchant: Merchant, key: ApiKey
) -> None:
    client = api(merchant, key)

    def look_up() -> str:
        try:
            taken = claim(client)
        except TooManyLookups as refusal:
            return refusal.scope
        time.sleep(0.02)
        taken.found()
        return "found"

    assert _in_parallel(30, look_up) == ["found"] * 30
    assert remaining_budget(client) == 10


def test_lookups_under_way_that_never_finish_are_refused_as_busy(
    merchant: Merchant, key: ApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookups, "CLAIM_WAIT_SECONDS", 0.05)
    client = api(merchant, key)
    held = [claim(client) for _ in range(10)]
    with pytest.raises(TooManyLookups) as excinfo:
        claim(client)
    assert excinfo.value.scope == "busy"
    assert excinfo.value.retry_after == 1
    for taken in held:
        taken.found()
    claim(client).found()


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_codes_reach_the_database_at_most_budget_times(
    merchant: Merchant, key: ApiKey, settings: Any
) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL for parallel connections")
    client = api(merchant, key)

    def guess(_: int) -> str:
        try:
            find_card_by_code(client=client, code=codes.generate())
        except TooManyLookups:
            return "throttled"
        except CardNotFound:
            return "not found"
        return "found"

    outcomes = in_threads(30, guess)
    assert outcomes.count("not found") == 10
    assert outcomes.count("throttled") == 20
    assert FailedCodeLookup.objects.filter(api_key=key).count() == 10


@pytest.mark.parametrize("letter", ["\u017f", "\u0131", "\u00df", "\uff33"])
def test_codes_are_ascii_only(merchant: Merchant, key: ApiKey, letter: str) -> None:
    card = issue(merchant)
    real = card.code
    # Put a non-ASCII look-alike where an S or an I/1 is, or append it.
    spoofed = real[:-1] + letter if letter != "\u00df" else real + letter
    with pytest.raises(codes.InvalidCode):
        codes.normalise(spoofed)
    with pytest.raises(CardNotFound):
        find_card_by_code(client=api(merchant, key), code=spoofed)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set (CI sets it)")
def test_counters_live_in_redis_when_configured(merchant: Merchant, key: ApiKey, settings) -> None:
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
        client = api(merchant, key)
        _guess(client, 3)
        with pytest.raises(TooManyLookups):
            claim(client)
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


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set (CI sets it)")
def test_many_cards_are_forgotten_at_once_on_redis(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    from django.db import transaction

    from giftcards import cache as card_cache

    redis_cache = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-many-{os.getpid()}",
        }
    }
    cards = [(merchant.pk, "gc_a"), (merchant.pk, "gc_b"), (other_merchant.pk, "gc_c")]
    with override_settings(CACHES=redis_cache):
        cache = caches["default"]
        kept = card_cache.card_key(merchant.pk, "gc_kept")
        for key in [kept, *(card_cache.card_key(*card) for card in cards)]:
            cache.set(key, {"balance": 1})
        before = {pk: card_cache.list_version(pk) for pk in (merchant.pk, other_merchant.pk)}
        with transaction.atomic():
            card_cache.invalidate_cards_on_commit(cards)
        # pytest-django's test transaction keeps on_commit pending; run it by hand.
        for _, callback, _ in transaction.get_connection().run_on_commit:
            callback()
        assert [cache.get(card_cache.card_key(*card)) for card in cards] == [None] * 3
        assert cache.get(kept) == {"balance": 1}
        for pk, version in before.items():
            assert card_cache.list_version(pk) != version
        cache.clear()


@pytest.mark.django_db(transaction=True)
def test_a_redemption_by_code_leaves_its_budget_whether_it_is_spent_or_refused(
    redis_cache: Any, merchant: Merchant, api_key: str, api_client: Any
) -> None:
    """On Redis the budget is left with the commit's cache round trip, or when the request
    ends: either way nothing stays joined after the answer."""
    client = redis_cache.client.get_client(write=True)
    sent: list[str] = []
    original = client.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = original(*args, **kwargs)
        execute = pipe.execute
        pipe.execute = lambda *a, **k: sent.append("pipeline") or execute(*a, **k)
        return pipe

    client.pipeline = counting_pipeline
    original_evalsha = client.evalsha
    client.evalsha = lambda *args: sent.append("script") or original_evalsha(*args)
    try:
        card = issue(merchant, 1_000)
        sent.clear()
        key_id = ApiKey.objects.get(merchant=merchant).pk
        start, _ = lookups._window()
        _, running = lookups._keys(f"key:{key_id}", start)
        spent = api_client.post(
            "/api/v1/gift-cards/redeem/",
            {"code": card.formatted_code, "amount": 100},
            format="json",
        )
        assert spent.status_code == 201, spent.content
        assert int(caches["default"].get(running)) == 0
        # Two round trips: joining the budget, and the commit's cache round trip, which
        # left it too.
        assert sent == ["script", "pipeline"]
        refused = api_client.post(
            "/api/v1/gift-cards/redeem/",
            {"code": card.formatted_code, "amount": 5_000},
            format="json",
        )
        assert refused.status_code == 422, refused.content
        assert int(caches["default"].get(running)) == 0
        # Refused: nothing spent, nothing more booked.
        assert GiftCard.objects.get(pk=card.card.pk).balance == 900
        assert Transaction.objects.filter(gift_card=card.card).count() == 2
    finally:
        del client.pipeline, client.evalsha
