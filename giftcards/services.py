"""Every balance change of a gift card, and nothing else changes a balance.

Each operation runs in ``transaction.atomic()``, locks the card row with
``SELECT ... FOR UPDATE`` (re-reading the balance under the lock), checks its rules
before writing anything, then writes the ledger row and the card's new balance
together. Side effects (cache invalidation, later webhooks) run on commit.

A refusal raises a ``giftcards.exceptions`` error before any write, so a refused
operation changes nothing.

Nested in a caller's transaction an operation runs in a savepoint, except inside the
API's ``core.db.flat_transaction``, where it saves those round trips (see ``core.db``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from core.db import atomic_service
from core.money import MAX_AMOUNT
from core.sql import RowMapper
from core.sql import cursor as sql_cursor
from giftcards import cache as card_cache
from giftcards import codes
from giftcards.exceptions import (
    CardNotActive,
    CardNotReloadable,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidExpiry,
    NotRefundable,
    ProductUnavailable,
    ReasonRequired,
    RefundExceedsRedemption,
    TransactionNotFound,
)
from giftcards.locks import lock_card
from giftcards.models import CardStatus, GiftCard, Product, Transaction, TransactionKind
from giftcards.product_rules import min_validity_days, product_amount_refusal, product_validity_days
from merchants.models import ApiKey, Merchant

Actor = User | ApiKey | None

# The ledger insert is on every redemption: its SQL is built once (see core.sql).
_ledger = RowMapper(Transaction)
_SET_BALANCE = (
    "UPDATE giftcards_giftcard SET balance = %s, status = %s, updated_at = %s WHERE id = %s"
)


@dataclass(frozen=True)
class IssuedCard:
    card: GiftCard
    code: str  # the plain code, normalised; shown once to whoever issued the card
    transaction: Transaction

    @property
    def formatted_code(self) -> str:
        return codes.format_code(self.code)


def _actor_fields(actor: Actor) -> dict[str, Any]:
    if isinstance(actor, ApiKey):
        return {"actor_api_key": actor}
    if isinstance(actor, User):
        return {"actor_user": actor}
    return {}


def _check_amount(amount: int, *, what: str = "amount") -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount(f"The {what} must be a whole number of minor units above 0.")
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"The {what} is larger than the platform allows.")


def _check_currency(card: GiftCard, currency: str | None) -> None:
    if currency is not None and currency.upper() != card.currency:
        raise CurrencyMismatch(
            f"This card is in {card.currency}; the request was in {currency.upper()}."
        )


def _check_spendable(card: GiftCard, now: datetime) -> None:
    if card.status in (CardStatus.VOID, CardStatus.EXPIRED, CardStatus.PENDING):
        raise CardNotActive(f"This card is {card.get_status_display().lower()}.")
    if card.is_expired(now):
        raise CardNotActive("This card has expired.")


def _write(
    card: GiftCard,
    *,
    kind: str,
    amount: int,
    now: datetime,
    actor: Actor,
    reference: str = "",
    reason: str = "",
    idempotency_key: str = "",
    related: Transaction | None = None,
    status: str | None = None,
) -> Transaction:
    """Append the ledger row and store the card's new balance, in the caller's transaction."""
    card.balance += amount
    if status is not None:
        card.status = status
    elif card.status == CardStatus.ACTIVE and card.balance == 0:
        card.status = CardStatus.REDEEMED
    elif card.status == CardStatus.REDEEMED and card.balance > 0:
        card.status = CardStatus.ACTIVE
    card.updated_at = now
    txn = Transaction(
        merchant_id=card.merchant_id,
        gift_card=card,
        kind=kind,
        amount=amount,
        balance_after=card.balance,
        currency=card.currency,
        reference=reference[:200],
        reason=reason[:500],
        related=related,
        idempotency_key=idempotency_key[:255],
        created_at=now,
        **_actor_fields(actor),
    )
    balance_params: list[Any] = [
        card.balance,
        card.status,
        connection.ops.adapt_datetimefield_value(now),
        card.pk,
    ]
    if connection.vendor == "postgresql":
        # The balance and its ledger row in one statement: one round trip fewer while
        # the card's row lock is held.
        _ledger.insert(txn, before=f"WITH card AS ({_SET_BALANCE})", before_params=balance_params)
    else:
        _ledger.insert(txn)
        with sql_cursor() as cursor:
            cursor.execute(_SET_BALANCE, balance_params)
    card_cache.invalidate_card_on_commit(card.merchant_id, card.public_id)
    return txn


def _expiry_for(
    *, product: Product | None, expires_at: datetime | None, now: datetime
) -> datetime | None:
    floor_days = min_validity_days()
    validity_days = product_validity_days(product) if product is not None else None
    if expires_at is None and validity_days is not None:
        expires_at = now + timedelta(days=validity_days)
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise InvalidExpiry("The expiry date needs a time zone.")
        if expires_at <= now:
            raise InvalidExpiry("The expiry date must be in the future.")
        if expires_at < now + timedelta(days=floor_days) - timedelta(minutes=1):
            raise InvalidExpiry(
                f"Cards must stay valid for at least {floor_days} days on this platform."
            )
    return expires_at


def _check_product(product: Product, *, merchant: Merchant, amount: int, currency: str) -> None:
    if product.merchant_id != merchant.pk or not product.is_active:
        raise ProductUnavailable("This product is not available.")
    if product.currency != currency:
        raise CurrencyMismatch(f"This product is sold in {product.currency}, not {currency}.")
    refusal = product_amount_refusal(product, amount)
    if refusal is not None:
        raise InvalidAmount(refusal)


def giftcard_issue(
    *,
    merchant: Merchant,
    amount: int,
    currency: str | None = None,
    product: Product | None = None,
    expires_at: datetime | None = None,
    recipient_email: str = "",
    recipient_phone: str = "",
    metadata: dict[str, Any] | None = None,
    status: str = CardStatus.ACTIVE,
    actor: Actor = None,
    reference: str = "",
    idempotency_key: str = "",
) -> IssuedCard:
    """Create a card holding ``amount`` with a fresh code, and its ``issue`` ledger row."""
    _check_amount(amount)
    currency = (currency or (product.currency if product else merchant.currency)).upper()
    if product is not None:
        _check_product(product, merchant=merchant, amount=amount, currency=currency)
    if status not in (CardStatus.ACTIVE, CardStatus.PENDING):
        raise ValueError("A card starts active or pending.")
    now = timezone.now()
    expiry = _expiry_for(product=product, expires_at=expires_at, now=now)
    reloadable = product.reloadable if product is not None else True
    for attempt in range(3):
        sealed = codes.seal(codes.generate())
        try:
            with transaction.atomic():
                card = GiftCard.objects.create(
                    merchant=merchant,
                    product=product,
                    currency=currency,
                    initial_amount=amount,
                    balance=0,
                    status=status,
                    reloadable=reloadable,
                    code_digest=sealed.digest,
                    code_encrypted=sealed.encrypted,
                    last4=sealed.last4,
                    expires_at=expiry,
                    recipient_email=recipient_email,
                    recipient_phone=recipient_phone,
                    metadata=metadata or {},
                    issued_by=actor if isinstance(actor, User) else None,
                    created_at=now,
                    updated_at=now,
                )
                txn = _write(
                    card,
                    kind=TransactionKind.ISSUE,
                    amount=amount,
                    now=now,
                    actor=actor,
                    reference=reference,
                    idempotency_key=idempotency_key,
                    status=status,
                )
        except IntegrityError:
            duplicate_key = (
                bool(idempotency_key)
                and Transaction.objects.filter(
                    merchant=merchant, idempotency_key=idempotency_key[:255]
                ).exists()
            )
            # Retry only a clash of two 75-bit codes: astronomically rare, cheap to handle.
            if attempt == 2 or duplicate_key:
                raise
            continue
        return IssuedCard(card=card, code=sealed.plain, transaction=txn)
    raise AssertionError("unreachable")  # pragma: no cover


@atomic_service
def giftcard_redeem(
    *,
    merchant: Merchant,
    card_id: int | None = None,
    public_id: str | None = None,
    amount: int,
    currency: str | None = None,
    reference: str = "",
    actor: Actor = None,
    idempotency_key: str = "",
) -> Transaction:
    """Spend ``amount`` from the card. Never more than its balance, whatever runs beside it."""
    _check_amount(amount)
    card = lock_card(merchant=merchant, card_id=card_id, public_id=public_id)
    return _redeem_locked(
        card,
        amount=amount,
        currency=currency,
        reference=reference,
        actor=actor,
        idempotency_key=idempotency_key,
    )


def _redeem_locked(
    card: GiftCard,
    *,
    amount: int,
    currency: str | None,
    reference: str,
    actor: Actor,
    idempotency_key: str,
) -> Transaction:
    now = timezone.now()
    _check_spendable(card, now)
    _check_currency(card, currency)
    if amount > card.balance:
        raise InsufficientFunds(
            f"The card holds {card.balance}; {amount} was asked.",
            extra={"balance": card.balance, "currency": card.currency},
        )
    return _write(
        card,
        kind=TransactionKind.REDEEM,
        amount=-amount,
        now=now,
        actor=actor,
        reference=reference,
        idempotency_key=idempotency_key,
    )


@atomic_service
def giftcard_redeem_locked_card(
    *,
    card: GiftCard,
    amount: int,
    currency: str | None = None,
    reference: str = "",
    actor: Actor = None,
    idempotency_key: str = "",
) -> Transaction:
    """Redeem a card the caller already locked in this transaction (redeem by code)."""
    _check_amount(amount)
    return _redeem_locked(
        card,
        amount=amount,
        currency=currency,
        reference=reference,
        actor=actor,
        idempotency_key=idempotency_key,
    )


@atomic_service
def giftcard_reload(
    *,
    merchant: Merchant,
    card_id: int | None = None,
    public_id: str | None = None,
    amount: int,
    currency: str | None = None,
    reference: str = "",
    actor: Actor = None,
    idempotency_key: str = "",
) -> Transaction:
    """Add ``amount`` to a reloadable card that is active or spent to zero."""
    _check_amount(amount)
    card = lock_card(merchant=merchant, card_id=card_id, public_id=public_id)
    now = timezone.now()
    _check_spendable(card, now)
    _check_currency(card, currency)
    if not card.reloadable:
        raise CardNotReloadable("This card cannot be reloaded.")
    if card.balance + amount > MAX_AMOUNT:
        raise InvalidAmount("The card's balance would exceed what the platform allows.")
    return _write(
        card,
        kind=TransactionKind.RELOAD,
        amount=amount,
        now=now,
        actor=actor,
        reference=reference,
        idempotency_key=idempotency_key,
    )


@atomic_service
def transaction_refund(
    *,
    merchant: Merchant,
    transaction_id: int,
    amount: int | None = None,
    reference: str = "",
    reason: str = "",
    actor: Actor = None,
    idempotency_key: str = "",
) -> Transaction:
    """Give back all (``amount=None``) or part of a redemption; never more than was
    redeemed, counting earlier refunds of it."""
    redemption = (
        Transaction.objects.filter(merchant=merchant, pk=transaction_id)
        .only("pk", "gift_card_id", "kind", "amount")
        .first()
    )
    if redemption is None:
        raise TransactionNotFound("No transaction with that id.")
    if redemption.kind != TransactionKind.REDEEM:
        raise NotRefundable("Only redemptions can be refunded.")
    card = lock_card(merchant=merchant, card_id=redemption.gift_card_id)
    # Read under the card's lock: concurrent refunds of this redemption wait here.
    refunded = (
        Transaction.objects.filter(merchant=merchant, related=redemption).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    refundable = -redemption.amount - refunded
    if amount is None:
        amount = refundable
        if amount <= 0:
            raise RefundExceedsRedemption("This redemption has already been refunded in full.")
    _check_amount(amount)
    if amount > refundable:
        raise RefundExceedsRedemption(
            f"At most {refundable} of this redemption can still be refunded.",
            extra={"refundable": refundable},
        )
    now = timezone.now()
    if card.status in (CardStatus.VOID, CardStatus.EXPIRED) or card.is_expired(now):
        raise CardNotActive(f"This card is {card.get_status_display().lower()}.")
    return _write(
        card,
        kind=TransactionKind.REFUND,
        amount=amount,
        now=now,
        actor=actor,
        reference=reference,
        reason=reason,
        idempotency_key=idempotency_key,
        related=redemption,
    )


@atomic_service
def giftcard_adjust(
    *,
    merchant: Merchant,
    card_id: int,
    amount: int,
    reason: str,
    actor: Actor = None,
    reference: str = "",
) -> Transaction:
    """A manual correction, up or down, always with a reason."""
    if not reason.strip():
        raise ReasonRequired("Say why the balance is being adjusted.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount("The adjustment must be a whole number of minor units, not 0.")
    _check_amount(abs(amount))
    card = lock_card(merchant=merchant, card_id=card_id)
    now = timezone.now()
    if card.status in (CardStatus.VOID, CardStatus.EXPIRED):
        raise CardNotActive(f"This card is {card.get_status_display().lower()}.")
    if card.balance + amount < 0:
        raise InsufficientFunds(
            f"The card holds {card.balance}; it cannot go below 0.",
            extra={"balance": card.balance, "currency": card.currency},
        )
    return _write(
        card,
        kind=TransactionKind.ADJUST,
        amount=amount,
        now=now,
        actor=actor,
        reference=reference,
        reason=reason.strip(),
    )


@atomic_service
def giftcard_void(
    *,
    merchant: Merchant,
    card_id: int | None = None,
    public_id: str | None = None,
    reason: str = "",
    actor: Actor = None,
    idempotency_key: str = "",
) -> Transaction:
    """Deactivate the card for good; its remaining balance leaves through a ``void`` entry."""
    card = lock_card(merchant=merchant, card_id=card_id, public_id=public_id)
    if card.status in (CardStatus.VOID, CardStatus.EXPIRED):
        raise CardNotActive(f"This card is already {card.get_status_display().lower()}.")
    return _write(
        card,
        kind=TransactionKind.VOID,
        amount=-card.balance,
        now=timezone.now(),
        actor=actor,
        reason=reason.strip(),
        idempotency_key=idempotency_key,
        status=CardStatus.VOID,
    )


@atomic_service
def giftcard_expire(*, merchant: Merchant, card_id: int, actor: Actor = None) -> Transaction | None:
    """Expire a card past its date. The remaining balance is booked as breakage (an
    ``expire`` entry), never silently dropped. Returns None when there is nothing to do,
    so the daily job can run twice."""
    card = lock_card(merchant=merchant, card_id=card_id)
    now = timezone.now()
    if card.status not in (CardStatus.ACTIVE, CardStatus.REDEEMED, CardStatus.PENDING):
        return None
    if not card.is_expired(now):
        return None
    return _write(
        card,
        kind=TransactionKind.EXPIRE,
        amount=-card.balance,
        now=now,
        actor=actor,
        reason="Validity period ended",
        status=CardStatus.EXPIRED,
    )


@atomic_service
def giftcard_activate(*, merchant: Merchant, card_id: int, actor: Actor = None) -> GiftCard:
    """Pending -> active (e.g. once a paid order is delivered). No balance change."""
    card = lock_card(merchant=merchant, card_id=card_id)
    if card.status != CardStatus.PENDING:
        raise CardNotActive(f"Only a pending card can be activated; this one is {card.status}.")
    card.status = CardStatus.ACTIVE if card.balance > 0 else CardStatus.REDEEMED
    card.updated_at = timezone.now()
    card.save(update_fields=["status", "updated_at"])
    card_cache.invalidate_card_on_commit(card.merchant_id, card.public_id)
    return card


def new_reference() -> str:
    return f"ref_{secrets.token_hex(6)}"
