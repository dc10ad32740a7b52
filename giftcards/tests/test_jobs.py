"""Periodic jobs (GC-8, OP-1): card expiry with breakage, and its beat schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app
from giftcards import services
from giftcards.jobs import expire_due_cards
from giftcards.models import CardStatus, GiftCard, Transaction, TransactionKind
from giftcards.tasks import expire_gift_cards
from giftcards.tests.factories import IssuedCardFactory
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
