"""Shared helpers for gift card tests."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from giftcards import services
from giftcards.models import GiftCard, Transaction
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Merchant


def issue(merchant: Merchant, amount: int = 1000, **kwargs: Any) -> services.IssuedCard:
    kwargs.setdefault("currency", merchant.currency)
    return IssuedCardFactory(merchant=merchant, amount=amount, **kwargs)


def ledger_sum(card: GiftCard) -> int:
    return int(Transaction.objects.filter(gift_card=card).aggregate(s=Sum("amount"))["s"] or 0)


def snapshot(card: GiftCard) -> tuple[int, str, int]:
    """What must not change when an operation is refused: balance, status, ledger size."""
    card.refresh_from_db()
    return card.balance, card.status, Transaction.objects.filter(gift_card=card).count()
