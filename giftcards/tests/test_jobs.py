"""Periodic jobs (GC-8, OP-1): card expiry with breakage, and its beat schedule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app
from giftcards import cache as card_cache
from giftcards import services
from giftcards.jobs import expire_due_cards
from giftcards.models import CardStatus, GiftCard, Transaction, TransactionKind
from giftcards.tasks import expire_gift_cards
from giftcards.tests.factories import IssuedCardFactory
from giftcards.tests.helpers import ledger_sum
from merchants.models import Merchant

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# The platform floor is 365 days (GIFTCARD_MIN_VALIDITY_DAYS), so cards expire after it.
EXPIRY = START + timedelta(days=366)
DAY_BEFORE_EXPIRY = EXPIRY - timedelta(days=1)
AFTER_EXPIRY = EXPIRY + timedelta(hours=1)


def issue(merchant: Merchant, amount: int = 1000, **kwargs: Any) -> GiftCard:
    kwargs.setdefault("expires_at", EXPIRY)
    with time_machine.travel(START, tick=False):
        return IssuedCardFactory(merchant=merchant, amount=amount, **kwargs).card


def ledger(card: GiftCard) -> list[tuple[str, int, int]]:
    return list(
        Transaction.objects.filter(gift_card=card)
        .order_by("id")
        .values_list("kind", "amount", "balance_after")
    )


def test_a_card_expiring_tomorrow_is_kept_today_and_expired_after_its_date(
    merchant: Merchant,
) -> None:
    card = issue(merchant, 2500)
    with time_machine.travel(START + timedelta(days=10), tick=False):
        services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1000)

    with time_machine.travel(DAY_BEFORE_EXPIRY, tick=False):
        assert expire_due_cards() == 0
    card.refresh_from_db()
    assert (card.status, card.balance) == (CardStatus.ACTIVE, 1500)

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_due_cards() == 1
    card.refresh_from_db()
    assert (card.status, card.balance) == (CardStatus.EXPIRED, 0)
    # The remaining 1500 is breakage, booked in the ledger rather than dropped.
    assert ledger(card) == [("issue", 2500, 2500), ("redeem", -1000, 1500), ("expire", -1500, 0)]
    expiry_entry = Transaction.objects.get(gift_card=card, kind=TransactionKind.EXPIRE)
    assert expiry_entry.created_at == AFTER_EXPIRY
    assert expiry_entry.merchant_id == merchant.pk


def test_a_second_run_changes_nothing(merchant: Merchant) -> None:
    card = issue(merchant)
    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_due_cards() == 1
        entries = ledger(card)
        assert expire_due_cards() == 0
    card.refresh_from_db()
    assert card.status == CardStatus.EXPIRED
    assert ledger(card) == entries


def test_void_and_undated_cards_are_untouched(merchant: Merchant) -> None:
    void = issue(merchant)
    with time_machine.travel(START, tick=False):
        services.giftcard_void(merchant=merchant, card_id=void.pk, reason="test")
    undated = issue(merchant, expires_at=None)
    before = {c.pk: ledger(c) for c in (void, undated)}

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_due_cards() == 0

    void.refresh_from_db()
    undated.refresh_from_db()
    assert (void.status, void.balance) == (CardStatus.VOID, 0)
    assert (undated.status, undated.balance) == (CardStatus.ACTIVE, 1000)
    assert {c.pk: ledger(c) for c in (void, undated)} == before


def test_spent_and_pending_cards_past_their_date_expire_too(merchant: Merchant) -> None:
    spent = issue(merchant, 500)
    with time_machine.travel(START, tick=False):
        services.giftcard_redeem(merchant=merchant, card_id=spent.pk, amount=500)
    pending = issue(merchant, 800, status=CardStatus.PENDING)

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_due_cards() == 2

    spent.refresh_from_db()
    pending.refresh_from_db()
    assert (spent.status, spent.balance) == (CardStatus.EXPIRED, 0)
    assert (pending.status, pending.balance) == (CardStatus.EXPIRED, 0)
    assert ledger(pending)[-1] == ("expire", -800, 0)


def test_cards_are_expired_across_chunks_and_merchants(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    cards = [issue(merchant) for _ in range(3)] + [issue(other_merchant) for _ in range(2)]

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_due_cards(batch_size=2) == 5

    assert set(
        GiftCard.objects.filter(pk__in=[c.pk for c in cards]).values_list("status", flat=True)
    ) == {CardStatus.EXPIRED}
    assert Transaction.objects.filter(kind=TransactionKind.EXPIRE).count() == 5


def test_now_only_bounds_the_selection_and_never_expires_early(merchant: Merchant) -> None:
    card = issue(merchant)
    with time_machine.travel(DAY_BEFORE_EXPIRY, tick=False):
        # Asked to act as of a later time, the service still checks the real clock.
        assert expire_due_cards(now=AFTER_EXPIRY) == 0
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


# --- Chunks: many cards per transaction ------------------------------------------------


def verify_ledger() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_every_due_card_of_every_merchant_is_expired_chunk_by_chunk_with_its_breakage(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    cards = [issue(merchant, 1000 + n) for n in range(5)]
    cards += [issue(other_merchant, 2000 + n) for n in range(3)]
    cards.append(issue(other_merchant, 3000, currency="GBP"))
    with time_machine.travel(START + timedelta(days=3), tick=False):
        services.giftcard_redeem(merchant=merchant, card_id=cards[0].pk, amount=300)
    held = {card.pk: GiftCard.objects.get(pk=card.pk).balance for card in cards}
    chunks: list[int] = []

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        expired = expire_due_cards(batch_size=4, on_chunk=lambda c, _: chunks.append(c.expired))

    assert expired == 9
    assert chunks == [4, 4, 1]
    for card in cards:
        card.refresh_from_db()
        assert (card.status, card.balance, ledger_sum(card)) == (CardStatus.EXPIRED, 0, 0)
        assert ledger(card)[-1] == ("expire", -held[card.pk], 0)
    entries = Transaction.objects.filter(kind=TransactionKind.EXPIRE).select_related("gift_card")
    assert len({entry.public_id for entry in entries}) == 9
    for entry in entries:
        assert entry.merchant_id == entry.gift_card.merchant_id
        assert entry.currency == entry.gift_card.currency
        assert re.fullmatch(r"txn_[0-9a-hjkmnp-tv-z]{26}", entry.public_id)
        assert (entry.reason, entry.reference, entry.idempotency_key) == (
            "Validity period ended",
            "",
            "",
        )
        assert (entry.actor_user_id, entry.actor_api_key_id, entry.related_id) == (None,) * 3
        assert entry.created_at == AFTER_EXPIRY
        assert entry.gift_card.updated_at == AFTER_EXPIRY
    assert "0 mismatches" in verify_ledger()


def test_a_second_run_over_many_chunks_writes_nothing(merchant: Merchant) -> None:
    cards = [issue(merchant) for _ in range(7)]
    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_due_cards(batch_size=3) == 7
    ledger_rows = Transaction.objects.count()

    with (
        time_machine.travel(AFTER_EXPIRY + timedelta(hours=1), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        assert expire_due_cards(batch_size=3) == 0

    written = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))
    ]
    assert written == []
    assert Transaction.objects.count() == ledger_rows
    assert {card.updated_at for card in GiftCard.objects.filter(pk__in=[c.pk for c in cards])} == {
        AFTER_EXPIRY
    }


def test_cards_not_due_void_or_undated_are_left_as_they_are_beside_due_ones(
    merchant: Merchant,
) -> None:
    due = [issue(merchant) for _ in range(2)]
    later = issue(merchant, expires_at=EXPIRY + timedelta(days=30))
    undated = issue(merchant, expires_at=None)
    void = issue(merchant)
    with time_machine.travel(START, tick=False):
        services.giftcard_void(merchant=merchant, card_id=void.pk, reason="lost")
    untouched = [later, undated, void]
    before = {
        card.pk: (GiftCard.objects.get(pk=card.pk).updated_at, ledger(card)) for card in untouched
    }

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_due_cards(batch_size=100) == 2

    assert {c.status for c in GiftCard.objects.filter(pk__in=[c.pk for c in due])} == {"expired"}
    after = {
        card.pk: (GiftCard.objects.get(pk=card.pk).updated_at, ledger(card)) for card in untouched
    }
    assert after == before
    assert [GiftCard.objects.get(pk=c.pk).status for c in untouched] == ["active", "active", "void"]


def test_a_chunk_costs_the_same_statements_for_10_cards_as_for_50(merchant: Merchant) -> None:
    def statements(cards: int, at: datetime) -> int:
        for _ in range(cards):
            issue(merchant)
        with time_machine.travel(at, tick=False), CaptureQueriesContext(connection) as queries:
            assert expire_due_cards(batch_size=100) == cards
        return len(queries)

    ten = statements(10, AFTER_EXPIRY)
    assert ten == statements(50, AFTER_EXPIRY + timedelta(hours=1))
    # The chunk's savepoint (its transaction in production), its lock, its writes.
    assert ten <= 5


def test_expiry_forgets_the_cached_cards_and_lists_once_each_chunk_commits(
    merchant: Merchant, django_capture_on_commit_callbacks: Any
) -> None:
    cards = [issue(merchant) for _ in range(3)]
    keys = [card_cache.card_key(merchant.pk, card.public_id) for card in cards]
    for key in keys:
        cache.set(key, {"balance": 1000})
    version = card_cache.list_version(merchant.pk)

    with (
        time_machine.travel(AFTER_EXPIRY, tick=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        assert expire_due_cards(batch_size=2) == 3

    assert len(callbacks) == 2  # one per chunk
    assert [cache.get(key) for key in keys] == [None, None, None]
    assert card_cache.list_version(merchant.pk) != version


def test_the_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        expire_due_cards(batch_size=0)
    with pytest.raises(ValueError, match="workers"):
        expire_due_cards(workers=0)


def test_the_expiry_task_runs_the_job(merchant: Merchant) -> None:
    issue(merchant)
    with time_machine.travel(AFTER_EXPIRY, tick=False):
        assert expire_gift_cards.delay().get() == 1
        assert expire_gift_cards.delay().get() == 0


@pytest.mark.django_db(transaction=True)
def test_beat_schedule_entry_is_synced_into_the_database_scheduler() -> None:
    # The scheduler closes stale connections as beat does, hence a transactional test.
    assert "giftcards.expire_gift_cards" in app.tasks
    DatabaseScheduler(app=app)

    expiry = PeriodicTask.objects.get(name="expire-gift-cards")
    assert expiry.task == "giftcards.expire_gift_cards"
    assert expiry.enabled
    assert expiry.crontab is not None
    assert (expiry.crontab.minute, expiry.crontab.hour) == ("0", "2")
    assert (expiry.crontab.day_of_week, expiry.crontab.day_of_month) == ("*", "*")
    assert str(expiry.crontab.timezone) == "UTC"
