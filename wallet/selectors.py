"""Reads of a person's wallet and orders. Every query starts from the person: a card or
an order of someone else is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.selectors import verified_emails
from core.money import format_money
from giftcards.models import CardStatus, GiftCard, Transaction
from giftcards.selectors import transaction_list
from orders.models import Order
from wallet.models import WalletCard, WalletSource


def email_match(field: str, emails: list[str]) -> Q:
    """Any of ``emails`` in ``field``, ignoring case (a match on none when empty)."""
    condition = Q(pk__in=[])
    for email in emails:
        condition |= Q(**{f"{field}__iexact": email})
    return condition


@dataclass(frozen=True)
class CardRow:
    """One card as its holder sees it: never its code, only the last 4."""

    public_id: str
    merchant_name: str
    last4: str
    balance: str
    initial_amount: str
    status: str
    is_usable: bool
    expires_at: datetime | None
    source: str
    added_at: datetime


def card_row(entry: WalletCard, *, now: datetime | None = None) -> CardRow:
    card = entry.gift_card
    now = now or timezone.now()
    status = card.current_status(now)
    return CardRow(
        public_id=card.public_id,
        merchant_name=card.merchant.name,
        last4=card.last4,
        balance=format_money(card.balance, card.currency),
        initial_amount=format_money(card.initial_amount, card.currency),
        status=CardStatus(status).label,
        is_usable=card.is_usable(now),
        expires_at=card.expires_at,
        source=WalletSource(entry.source).label,
        added_at=entry.added_at,
    )


@dataclass(frozen=True)
class Wallet:
    bought: list[CardRow]
    received: list[CardRow]

    @property
    def is_empty(self) -> bool:
        return not (self.bought or self.received)


def _entries(user: User) -> QuerySet[WalletCard]:
    return WalletCard.objects.filter(user=user).select_related("gift_card", "gift_card__merchant")


def wallet_for_user(*, user: User) -> Wallet:
    """The person's cards, bought and received (or claimed), newest first; one query
    whatever the number of cards. Balances are read from the cards themselves, live."""
    now = timezone.now()
    bought: list[CardRow] = []
    received: list[CardRow] = []
    for entry in _entries(user).order_by("-added_at", "-id"):
        row = card_row(entry, now=now)
        (bought if entry.source == WalletSource.BOUGHT else received).append(row)
    return Wallet(bought=bought, received=received)


def wallet_card_get(*, user: User, public_id: str) -> WalletCard | None:
    """The person's wallet entry for this card, or ``None`` when they do not hold it."""
    return _entries(user).filter(gift_card__public_id=public_id).first()


@dataclass(frozen=True)
class LedgerRow:
    kind: str
    amount: str
    is_credit: bool
    balance_after: str
    created_at: datetime


def wallet_card_ledger(*, card: GiftCard) -> list[LedgerRow]:
    """The card's ledger entries for its holder: what happened, when, and for how much;
    not who did it or the staff's references."""
    entries: QuerySet[Transaction] = transaction_list(merchant=card.merchant, gift_card=card)
    return [
        LedgerRow(
            kind=txn.get_kind_display(),
            amount=format_money(txn.amount, txn.currency),
            is_credit=txn.amount >= 0,
            balance_after=format_money(txn.balance_after, txn.currency),
            created_at=txn.created_at,
        )
        for txn in entries
    ]


def orders_for_user(*, user: User) -> QuerySet[Order]:
    """The person's orders, newest first: those placed while signed in, and those placed
    without an account under one of their verified addresses."""
    emails = verified_emails(user)
    guest = Q(buyer__isnull=True) & email_match("buyer_email", emails)
    return (
        Order.objects.filter(Q(buyer=user) | guest)
        .select_related("merchant")
        .order_by("-created_at", "-id")
    )
