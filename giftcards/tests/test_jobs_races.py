"""The expiry job beside other writers (PostgreSQL row locks): a card changed while the
job waits for its lock is expired as it stands then, or not at all; runs at the same
time, and the job's own connections, expire each card once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection, connections, transaction

from giftcards import services
from giftcards.jobs import expire_due_cards
from giftcards.models import CardStatus, GiftCard, Transaction, TransactionKind
from giftcards.tests.helpers import ledger_sum
from giftcards.tests.test_jobs import AFTER_EXPIRY, issue, ledger, verify_ledger
from merchants.models import Merchant
from tests.concurrency import in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def job_while(change: Callable[[], Any]) -> int:
    """Run the job while ``change`` holds its card in an open transaction: the job reads
    the cards, waits for that one's lock, and goes on once the change has committed."""
    result: dict[str, Any] = {}

    def job() -> None:
        try:
            result["expired"] = expire_due_cards(workers=1)
        except BaseException as exc:  # the test shows it
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=job)
    with transaction.atomic():
        change()
        thread.start()
        time.sleep(0.5)
    thread.join(timeout=30)
    assert "error" not in result, result.get("error")
    return int(result["expired"])


def test_a_card_adjusted_while_the_job_waits_books_the_balance_it_holds_then(
    merchant: Merchant,
) -> None:
    card, other = issue(merchant, 1000), issue(merchant, 700)

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        expired = job_while(
            lambda: services.giftcard_adjust(
                merchant=merchant, card_id=card.pk, amount=-400, reason="miscount"
            )
        )

    assert expired == 2
    assert ledger(card) == [("issue", 1000, 1000), ("adjust", -400, 600), ("expire", -600, 0)]
    assert ledger(other) == [("issue", 700, 700), ("expire", -700, 0)]
    card.refresh_from_db()
    assert (card.status, card.balance, ledger_sum(card)) == (CardStatus.EXPIRED, 0, 0)
    assert "0 mismatches" in verify_ledger()


def test_a_card_voided_while_the_job_waits_is_not_expired(merchant: Merchant) -> None:
    card, other = issue(merchant, 1000), issue(merchant, 700)

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        expired = job_while(
            lambda: services.giftcard_void(merchant=merchant, card_id=card.pk, reason="stolen")
        )

    assert expired == 1
    assert ledger(card) == [("issue", 1000, 1000), ("void", -1000, 0)]
    card.refresh_from_db()
    assert (card.status, card.balance) == (CardStatus.VOID, 0)
    assert GiftCard.objects.get(pk=other.pk).status == CardStatus.EXPIRED


def test_the_jobs_connections_share_the_due_cards_and_expire_each_once(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    cards = [issue(merchant, 1000 + n) for n in range(6)]
    cards += [issue(other_merchant, 2000 + n) for n in range(5)]
    chunks: list[int] = []

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        expired = expire_due_cards(
            batch_size=2, workers=2, on_chunk=lambda chunk, _: chunks.append(chunk.expired)
        )

    assert expired == 11
    assert sorted(chunks) == [1, 2, 2, 2, 2, 2]
    expiries = Transaction.objects.filter(kind=TransactionKind.EXPIRE)
    assert sorted(expiries.values_list("gift_card_id", flat=True)) == sorted(c.pk for c in cards)
    assert set(GiftCard.objects.values_list("status", "balance")) == {(CardStatus.EXPIRED, 0)}
    assert "0 mismatches" in verify_ledger()


def test_two_runs_at_once_expire_each_card_once(merchant: Merchant) -> None:
    cards = [issue(merchant, 1000 + n) for n in range(10)]

    with time_machine.travel(AFTER_EXPIRY, tick=False):
        counts = in_threads(2, lambda _: expire_due_cards(batch_size=3, workers=1))

    assert sum(counts) == 10
    expiries = Transaction.objects.filter(kind=TransactionKind.EXPIRE)
    assert sorted(expiries.values_list("gift_card_id", flat=True)) == sorted(c.pk for c in cards)
    assert "0 mismatches" in verify_ledger()
