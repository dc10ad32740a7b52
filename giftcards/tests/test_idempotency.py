"""A money movement's idempotency key: the same key returns the first result and writes
nothing; the same key for another movement is refused and changes nothing
(``giftcards.idempotency``). The races are in ``test_races.py`` (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from giftcards import services
from giftcards.exceptions import CardsAlreadyUsed, IdempotencyKeyReused, InsufficientFunds
from giftcards.lookups import LookupClient
from giftcards.models import CardStatus, GiftCard, LookupChannel, Transaction
from giftcards.tests.helpers import issue, snapshot
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


def test_a_repeated_redemption_returns_the_first_row_and_spends_once(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    first = services.giftcard_redeem(
        merchant=merchant, card_id=card.pk, amount=300, idempotency_key="k1"
    )
    again = services.giftcard_redeem(
        merchant=merchant, card_id=card.pk, amount=300, idempotency_key="k1"
    )
    assert again.pk == first.pk
    assert (first.replayed, again.replayed) == (False, True)
    assert snapshot(card) == (700, "active", 2)


def test_a_repeat_after_the_balance_is_spent_still_returns_the_first_row(
    merchant: Merchant,
) -> None:
    card = issue(merchant, 1000).card
    first = services.giftcard_redeem(
        merchant=merchant, public_id=card.public_id, amount=1000, idempotency_key="all"
    )
    again = services.giftcard_redeem(
        merchant=merchant, public_id=card.public_id, amount=1000, idempotency_key="all"
    )
    assert again.pk == first.pk
    assert snapshot(card) == (0, "redeemed", 2)


def test_a_new_key_on_a_spent_card_is_still_refused(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1000, idempotency_key="a")
    with pytest.raises(InsufficientFunds):
        services.giftcard_redeem(
            merchant=merchant, card_id=card.pk, amount=1000, idempotency_key="b"
        )
    assert snapshot(card) == (0, "redeemed", 2)


@pytest.mark.parametrize(
    "change",
    [{"amount": 400}, {"kind": "reload"}, {"other_card": True}],
    ids=["another amount", "another kind", "another card"],
)
def test_a_key_reused_for_another_movement_is_refused_and_changes_nothing(
    merchant: Merchant, change: dict[str, Any]
) -> None:
    card = issue(merchant, 1000).card
    other = issue(merchant, 1000).card
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=300, idempotency_key="k")
    before = snapshot(card), snapshot(other)
    target = other if change.get("other_card") else card
    act = services.giftcard_reload if change.get("kind") == "reload" else services.giftcard_redeem
    with pytest.raises(IdempotencyKeyReused) as refused:
        act(
            merchant=merchant,
            card_id=target.pk,
            amount=change.get("amount", 300),
            idempotency_key="k",
        )
    assert refused.value.status == 409
    assert refused.value.code == "idempotency_key_reused"
    assert (snapshot(card), snapshot(other)) == before


def test_keys_are_the_merchants_own(merchant: Merchant, other_merchant: Merchant) -> None:
    mine = issue(merchant, 1000).card
    theirs = issue(other_merchant, 1000).card
    services.giftcard_redeem(merchant=merchant, card_id=mine.pk, amount=100, idempotency_key="k")
    txn = services.giftcard_redeem(
        merchant=other_merchant, card_id=theirs.pk, amount=100, idempotency_key="k"
    )
    assert not txn.replayed
    assert snapshot(theirs) == (900, "active", 2)


def test_a_repeated_redemption_by_code_returns_the_first_row(
    merchant: Merchant, owner: User
) -> None:
    issued = issue(merchant, 1000)
    client = LookupClient(merchant=merchant, channel=LookupChannel.TILL, user=owner)
    first = services.giftcard_redeem_by_code(
        client=client, code=issued.code, amount=250, idempotency_key="scan-1"
    )
    again = services.giftcard_redeem_by_code(
        client=client, code=issued.formatted_code, amount=250, idempotency_key="scan-1"
    )
    assert again.pk == first.pk
    assert again.replayed
    assert snapshot(issued.card) == (750, "active", 2)


def test_a_repeated_issue_returns_the_first_card_and_its_code(merchant: Merchant) -> None:
    first = issue(merchant, 2500, idempotency_key="issue-1")
    again = issue(merchant, 2500, idempotency_key="issue-1")
    assert (again.card.pk, again.transaction.pk, again.code) == (
        first.card.pk,
        first.transaction.pk,
        first.code,
    )
    assert (first.replayed, again.replayed) == (False, True)
    assert GiftCard.objects.count() == 1


def test_an_issue_key_reused_for_another_amount_is_refused(merchant: Merchant) -> None:
    issue(merchant, 2500, idempotency_key="issue-1")
    with pytest.raises(IdempotencyKeyReused):
        issue(merchant, 3000, idempotency_key="issue-1")
    assert GiftCard.objects.count() == 1
    assert Transaction.objects.count() == 1


def test_repeated_reload_refund_adjust_and_void_each_write_once(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    spend = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=400)
    for _ in range(2):
        services.giftcard_reload(
            merchant=merchant, card_id=card.pk, amount=100, idempotency_key="r"
        )
        refund = services.transaction_refund(
            merchant=merchant, transaction_id=spend.pk, idempotency_key="f"
        )
        services.giftcard_adjust(
            merchant=merchant, card_id=card.pk, amount=-50, reason="fix", idempotency_key="a"
        )
    assert refund.replayed
    assert refund.amount == 400
    assert snapshot(card) == (1050, "active", 5)
    voids = [
        services.giftcard_void(merchant=merchant, card_id=card.pk, idempotency_key="v")
        for _ in range(2)
    ]
    assert voids[0].pk == voids[1].pk
    assert voids[1].replayed
    assert snapshot(card) == (0, "void", 6)


def test_a_refund_key_reused_for_another_redemption_is_refused(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    one = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=100)
    two = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=100)
    services.transaction_refund(merchant=merchant, transaction_id=one.pk, idempotency_key="f")
    before = snapshot(card)
    with pytest.raises(IdempotencyKeyReused):
        services.transaction_refund(merchant=merchant, transaction_id=two.pk, idempotency_key="f")
    assert snapshot(card) == before


def test_taking_back_cards_voids_all_once_and_a_repeat_returns_the_voids(
    merchant: Merchant,
) -> None:
    cards = [issue(merchant, 1000).card for _ in range(3)]
    calls: list[int] = []
    ids = [card.pk for card in reversed(cards)]
    first = services.giftcards_take_back(
        merchant=merchant,
        card_ids=ids,
        reason="Order refunded",
        idempotency_key="order-refund:ord_1",
        before_void=lambda: calls.append(1),
    )
    again = services.giftcards_take_back(
        merchant=merchant,
        card_ids=ids,
        reason="Order refunded",
        idempotency_key="order-refund:ord_1",
        before_void=lambda: calls.append(1),
    )
    assert [txn.gift_card_id for txn in first] == sorted(ids)
    assert [txn.pk for txn in again] == [txn.pk for txn in first]
    assert all(txn.replayed for txn in again)
    assert calls == [1]
    assert [snapshot(card) for card in cards] == [(0, "void", 2)] * 3


def test_taking_back_refuses_all_when_one_card_was_used(merchant: Merchant) -> None:
    cards = [issue(merchant, 1000).card for _ in range(2)]
    services.giftcard_redeem(merchant=merchant, card_id=cards[1].pk, amount=1)
    before = [snapshot(card) for card in cards]
    calls: list[int] = []
    with pytest.raises(CardsAlreadyUsed) as refused:
        services.giftcards_take_back(
            merchant=merchant,
            card_ids=[card.pk for card in cards],
            reason="Order refunded",
            idempotency_key="order-refund:ord_2",
            before_void=lambda: calls.append(1),
        )
    assert [card.pk for card in refused.value.used] == [cards[1].pk]
    assert refused.value.total == 2
    assert calls == []
    assert [snapshot(card) for card in cards] == before


@pytest.mark.django_db(transaction=True)
def test_holding_a_card_needs_the_callers_transaction(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    with pytest.raises(RuntimeError):
        services.giftcard_hold(merchant=merchant, card_id=card.pk)
    with transaction.atomic():
        held = services.giftcard_hold(merchant=merchant, card_id=card.pk)
    assert held.pk == card.pk


# --- The card's one answer -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expired", "spend", "refund"),
    [
        (CardStatus.ACTIVE, False, None, None),
        (CardStatus.REDEEMED, False, None, None),
        (CardStatus.PENDING, False, "pending", None),
        (CardStatus.VOID, False, "void", "void"),
        (CardStatus.EXPIRED, False, "expired", "expired"),
        (CardStatus.ACTIVE, True, "expired", "expired"),
        (CardStatus.PENDING, True, "expired", "expired"),
    ],
)
def test_the_card_says_whether_it_can_be_spent_or_refunded(
    status: str, expired: bool, spend: str | None, refund: str | None
) -> None:
    now = timezone.now()
    card = GiftCard(
        status=status,
        balance=100,
        initial_amount=100,
        reloadable=True,
        expires_at=now - timedelta(days=1) if expired else now + timedelta(days=1),
    )
    assert card.spend_refusal(now) == spend
    assert card.refund_refusal(now) == refund
    assert card.reload_refusal(now) == spend
    card.reloadable = False
    assert card.reload_refusal(now) == (spend or "not_reloadable")


@pytest.mark.parametrize(
    ("status", "expired", "balance", "shown", "ended", "usable"),
    [
        (CardStatus.ACTIVE, False, 100, CardStatus.ACTIVE, False, True),
        (CardStatus.ACTIVE, False, 0, CardStatus.ACTIVE, False, False),
        (CardStatus.ACTIVE, True, 100, CardStatus.EXPIRED, True, False),
        (CardStatus.REDEEMED, False, 0, CardStatus.REDEEMED, False, False),
        (CardStatus.PENDING, False, 100, CardStatus.PENDING, False, False),
        (CardStatus.VOID, False, 0, CardStatus.VOID, True, False),
        (CardStatus.EXPIRED, False, 0, CardStatus.EXPIRED, True, False),
    ],
)
def test_the_card_says_how_it_stands_for_the_pages_that_show_it(
    status: str, expired: bool, balance: int, shown: str, ended: bool, usable: bool
) -> None:
    now = timezone.now()
    card = GiftCard(
        status=status,
        balance=balance,
        initial_amount=100,
        expires_at=now - timedelta(days=1) if expired else now + timedelta(days=1),
    )
    assert card.current_status(now) == shown
    assert card.has_ended(now) is ended
    assert card.is_usable(now) is usable


def test_taking_back_needs_a_key(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    services.giftcard_void(merchant=merchant, card_id=card.pk, reason="earlier")
    before = snapshot(card)
    calls: list[int] = []
    with pytest.raises(ValueError, match="idempotency key"):
        services.giftcards_take_back(
            merchant=merchant,
            card_ids=[card.pk],
            reason="Order refunded",
            idempotency_key="",
            before_void=lambda: calls.append(1),
        )
    assert calls == []
    assert snapshot(card) == before


def test_taking_back_refuses_a_card_past_its_date(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    GiftCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timedelta(days=1))
    before = snapshot(card)
    calls: list[int] = []
    with pytest.raises(CardsAlreadyUsed):
        services.giftcards_take_back(
            merchant=merchant,
            card_ids=[card.pk],
            reason="Order refunded",
            idempotency_key="order-refund:ord_3",
            before_void=lambda: calls.append(1),
        )
    assert calls == []
    assert snapshot(card) == before


def test_an_issue_key_reused_for_another_product_is_refused(merchant: Merchant) -> None:
    from giftcards.tests.factories import ProductFactory

    product = ProductFactory(merchant=merchant, denominations=[2500])
    issue(merchant, 2500, idempotency_key="issue-2")
    with pytest.raises(IdempotencyKeyReused):
        services.giftcard_issue(
            merchant=merchant, amount=2500, product=product, idempotency_key="issue-2"
        )
    assert GiftCard.objects.count() == 1
    assert Transaction.objects.count() == 1
