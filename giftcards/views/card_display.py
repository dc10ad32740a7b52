"""How cards, their ledger and refusals read on the dashboard's card pages: amounts in
money a person reads, and which actions a card still offers (the card's own answers,
``GiftCard.refund_refusal`` and friends)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from core.errors import ApplicationError
from core.money import format_money
from giftcards.exceptions import InsufficientFunds, InvalidAmount, RefundExceedsRedemption
from giftcards.models import CardStatus, GiftCard, Product, Transaction, TransactionKind
from giftcards.views.products import pricing_label
from merchants.models import Merchant
from merchants.tenancy import scoped

CLOSED = (CardStatus.VOID, CardStatus.EXPIRED)


@dataclass(frozen=True)
class CardRow:
    card: GiftCard

    @property
    def balance(self) -> str:
        return format_money(self.card.balance, self.card.currency)

    @property
    def initial(self) -> str:
        return format_money(self.card.initial_amount, self.card.currency)


@dataclass(frozen=True)
class LedgerRow:
    txn: Transaction
    refundable: int  # what of a redemption can still be refunded; 0 for other kinds
    can_refund: bool

    @property
    def amount(self) -> str:
        sign = "+" if self.txn.amount > 0 else ""
        return sign + format_money(self.txn.amount, self.txn.currency)

    @property
    def balance_after(self) -> str:
        return format_money(self.txn.balance_after, self.txn.currency)

    @property
    def size(self) -> str:
        return format_money(abs(self.txn.amount), self.txn.currency)

    @property
    def refundable_label(self) -> str:
        return format_money(self.refundable, self.txn.currency)


def explain(
    exc: ApplicationError, *, currency: str, product: Product | None = None
) -> tuple[str | None, str]:
    """The form field a refusal belongs to (None: the whole form) and a message in money
    a person reads, rather than the minor units the service speaks."""
    if isinstance(exc, InsufficientFunds) and "balance" in exc.extra:
        held = format_money(int(exc.extra["balance"]), currency)
        return "amount", f"Not enough on the card: it holds {held}."
    if isinstance(exc, RefundExceedsRedemption) and "refundable" in exc.extra:
        left = format_money(int(exc.extra["refundable"]), currency)
        return "amount", f"At most {left} of this redemption can still be refunded."
    if isinstance(exc, InvalidAmount):
        if product is not None:
            return "amount", f"{product.name} comes in these amounts: {pricing_label(product)}."
        return "amount", exc.detail
    return None, exc.detail


def refundable_amount(*, merchant: Merchant, txn: Transaction) -> int:
    """What of a redemption has not been refunded yet (refunds are positive rows that
    point at it)."""
    if txn.kind != TransactionKind.REDEEM:
        return 0
    refunded = (
        scoped(Transaction, merchant)
        .filter(related_id=txn.pk)
        .aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return max(0, -txn.amount - refunded)


def card_is_open(card: GiftCard) -> bool:
    """Whether a redemption can still be given back to the card (the card's own answer)."""
    return card.refund_refusal() is None
