"""Every balance change of a gift card, and nothing else changes a balance.

Each operation runs in ``transaction.atomic()``, locks the card row with
``SELECT ... FOR UPDATE`` (re-reading the balance under the lock), checks its rules
before writing anything, then writes the ledger row and the card's new balance
together. Side effects (cache invalidation, later webhooks) run on commit.

A refusal raises a ``giftcards.exceptions`` error before any write, so a refused
operation changes nothing.

Every money movement is one call here that owns its lock and its key: it takes the
``idempotency_key`` (and the ``actor``), locks the card itself through
``giftcards.locks`` (several cards in id order), and on a repeat of the key returns the
ledger row (or card) of the first call, marked ``replayed``, writing nothing; the key
for another movement is refused. What a key means and how a repeat is found, also when
two calls race: ``giftcards.idempotency``. Other apps never lock a card themselves:
``giftcards_take_back`` voids an order's cards, ``giftcard_hold`` serialises a step that
moves no money (a wallet claim, a new card link) with the card's movements.

Nested in a caller's transaction an operation runs in a savepoint, except inside the
API's ``core.db.flat_transaction``, where it saves those round trips (see ``core.db``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from core.db import atomic_service, in_flat_transaction
from core.errors import ApplicationError, NotFoundError
from core.money import MAX_AMOUNT
from core.sql import RowMapper
from core.sql import cursor as sql_cursor
from giftcards import cache as card_cache
from giftcards import codes, idempotency
from giftcards.exceptions import (
    CardNotActive,
    CardNotReloadable,
    CardsAlreadyUsed,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidExpiry,
    NotRefundable,
    ProductUnavailable,
    ReasonRequired,
    RefundExceedsRedemption,
    TooManyLookups,
    TransactionNotFound,
)
from giftcards.locks import MAX_ID, DueCard, lock_card, lock_cards, lock_due_cards
from giftcards.lookups import LookupClient, lock_card_by_code
from giftcards.models import CardStatus, GiftCard, Product, Transaction, TransactionKind
from giftcards.product_rules import min_validity_days, product_amount_refusal, product_validity_days
from merchants.idempotency import record_statement
from merchants.models import ApiKey, Merchant

Actor = User | ApiKey | None

# The ledger insert is on every redemption: its SQL is built once (see core.sql).
_ledger = RowMapper(Transaction)
# The ``reason`` of every ``expire`` row.
EXPIRY_REASON = "Validity period ended"
_SET_BALANCE = (
    "UPDATE giftcards_giftcard SET balance = %s, status = %s, updated_at = %s WHERE id = %s"
)


@dataclass(frozen=True)
class IssuedCard:
    card: GiftCard
    code: str  # the plain code, normalised; shown once to whoever issued the card
    transaction: Transaction
    replayed: bool = False  # the key was used before: this is the first call's card

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


def _refusal_detail(card: GiftCard) -> str:
    if card.status in (CardStatus.VOID, CardStatus.EXPIRED, CardStatus.PENDING):
        return f"This card is {card.get_status_display().lower()}."
    return "This card has expired."


def _check_spendable(card: GiftCard, now: datetime) -> None:
    if card.spend_refusal(now) is not None:
        raise CardNotActive(_refusal_detail(card))


# Refusals a repeat can meet because its first call succeeded (the balance is spent, the
# card void, the product withdrawn): they are answered with the first call's result.
# Not found and throttled lookups come before anything is known of a card.
_NOT_A_REPEAT = (NotFoundError, TooManyLookups)


def _once(
    *,
    merchant: Merchant,
    idempotency_key: str,
    same: Callable[[Transaction], bool],
    move: Callable[[], Transaction],
) -> Transaction:
    """Run ``move`` in a transaction (a savepoint when nested); when it fails and the
    key was used before, the first call's row instead (``giftcards.idempotency``)."""
    flat = in_flat_transaction()
    try:
        with transaction.atomic(savepoint=not flat):
            return move()
    except (IntegrityError, ApplicationError) as exc:
        if not idempotency_key or flat or isinstance(exc, _NOT_A_REPEAT):
            raise
        first = idempotency.first_use(merchant=merchant, key=idempotency_key)
        if first is None:
            raise
        return idempotency.repeat_of(first, same=same(first))


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
    answers: bool = False,
) -> Transaction:
    """Append the ledger row and store the card's new balance, in the caller's transaction.

    ``answers``: this row is the API request's answer, so on PostgreSQL the request's
    idempotency record is written in the same statement when the view asked for it
    (``merchants.idempotency.stored_with_write``)."""
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
        # The balance and its ledger row in one statement (and the request's stored
        # answer, when it is this row): fewer round trips while the card's row lock is
        # held.
        before = f"WITH card AS ({_SET_BALANCE})"
        answer = record_statement(txn) if answers else None
        if answer is not None:
            before += f", answer AS ({answer[0]})"
            balance_params += answer[1]
        _ledger.insert(txn, before=before, before_params=balance_params)
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


def _first_card(
    first: Transaction, *, amount: int, currency: str, product: Product | None
) -> IssuedCard:
    """The card an issue key made the first time, when this is the same issue again."""
    same = (
        first.kind == TransactionKind.ISSUE
        and first.amount == amount
        and first.currency == currency
        and first.gift_card.product_id == (product.pk if product is not None else None)
    )
    txn = idempotency.repeat_of(first, same=same)
    card = txn.gift_card
    plain = codes.decrypt(card.code_encrypted)
    return IssuedCard(card=card, code=plain, transaction=txn, replayed=True)


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
    """Create a card holding ``amount`` with a fresh code, and its ``issue`` ledger row.
    A repeat of the key returns the first call's card (``replayed``)."""
    _check_amount(amount)
    currency = (currency or (product.currency if product else merchant.currency)).upper()

    def first_card(first: Transaction) -> IssuedCard:
        return _first_card(first, amount=amount, currency=currency, product=product)

    earlier = idempotency.first_use(merchant=merchant, key=idempotency_key)
    if earlier is not None:
        return first_card(earlier)
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
        except IntegrityError as exc:
            if idempotency_key and idempotency.is_key_clash(exc):
                # A concurrent call with this key committed first: its card is the one.
                earlier = idempotency.first_use(merchant=merchant, key=idempotency_key)
                if earlier is None:  # pragma: no cover - the index names a row we see
                    raise
                return first_card(earlier)
            # Retry only a clash of two 75-bit codes: astronomically rare, cheap to handle.
            if attempt == 2:
                raise
            continue
        return IssuedCard(card=card, code=sealed.plain, transaction=txn)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class CardToIssue:
    """One card of ``giftcards_issue_many``: what ``giftcard_issue`` takes per card."""

    amount: int
    idempotency_key: str
    recipient_email: str = ""
    recipient_phone: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    reference: str = ""


def giftcards_issue_many(
    *,
    merchant: Merchant,
    cards: Sequence[CardToIssue],
    currency: str | None = None,
    product: Product | None = None,
    expires_at: datetime | None = None,
    actor: Actor = None,
) -> list[IssuedCard | ApplicationError]:
    """Issue several active cards at once (a chunk of a bulk job), each as
    ``giftcard_issue`` would: its own code, its ``issue`` ledger row, its idempotency key
    (a repeat returns the first call's card, ``replayed``). The answer for each card, in
    order: its ``IssuedCard``, or the refusal that kept it from being issued (nothing is
    written for it; the others are issued).

    One transaction and a few statements for all of them: one read of the keys used
    before, then the new cards and their ledger rows inserted together. When the
    database refuses the inserts (a concurrent run issued some of these keys first, or
    two codes clashed), nothing of the batch is kept and each card goes through
    ``giftcard_issue`` on its own, which answers each key once.
    """
    currency = (currency or (product.currency if product else merchant.currency)).upper()
    keys = [card.idempotency_key[: idempotency.MAX_KEY_LENGTH] for card in cards]
    if len(set(keys)) != len(keys) or "" in keys:
        raise ValueError("Each card of a batch needs its own idempotency key.")
    try:
        with transaction.atomic():
            return _issue_batch(
                merchant=merchant,
                cards=cards,
                currency=currency,
                product=product,
                expires_at=expires_at,
                actor=actor,
            )
    except IntegrityError:
        return [
            _issue_alone(
                merchant=merchant,
                card=card,
                currency=currency,
                product=product,
                expires_at=expires_at,
                actor=actor,
            )
            for card in cards
        ]


def _issue_alone(
    *,
    merchant: Merchant,
    card: CardToIssue,
    currency: str,
    product: Product | None,
    expires_at: datetime | None,
    actor: Actor,
) -> IssuedCard | ApplicationError:
    try:
        return giftcard_issue(
            merchant=merchant,
            amount=card.amount,
            currency=currency,
            product=product,
            expires_at=expires_at,
            recipient_email=card.recipient_email,
            recipient_phone=card.recipient_phone,
            metadata=card.metadata,
            actor=actor,
            reference=card.reference,
            idempotency_key=card.idempotency_key,
        )
    except ApplicationError as exc:
        return exc


def _issue_batch(
    *,
    merchant: Merchant,
    cards: Sequence[CardToIssue],
    currency: str,
    product: Product | None,
    expires_at: datetime | None,
    actor: Actor,
) -> list[IssuedCard | ApplicationError]:
    """``giftcards_issue_many`` in its transaction; the checks are ``giftcard_issue``'s,
    in its order: the amount, a repeat of the key, the product, the expiry."""
    now = timezone.now()
    answers: list[IssuedCard | ApplicationError | None] = [None] * len(cards)
    checked: list[int] = []
    for index, card in enumerate(cards):
        try:
            _check_amount(card.amount)
        except ApplicationError as exc:
            answers[index] = exc
        else:
            checked.append(index)
    earlier = {
        txn.idempotency_key: txn
        for txn in Transaction.objects.filter(
            merchant=merchant,
            idempotency_key__in=[
                cards[i].idempotency_key[: idempotency.MAX_KEY_LENGTH] for i in checked
            ],
        )
        # Written as the unique index's condition, so PostgreSQL reads the index.
        .exclude(idempotency_key="")
        .select_related("gift_card")
    }
    expiry: datetime | None = None
    expiry_refusal: ApplicationError | None = None
    try:
        expiry = _expiry_for(product=product, expires_at=expires_at, now=now)
    except ApplicationError as exc:
        expiry_refusal = exc
    new: list[tuple[int, codes.SealedCode, GiftCard]] = []
    for index in checked:
        card = cards[index]
        first = earlier.get(card.idempotency_key[: idempotency.MAX_KEY_LENGTH])
        try:
            if first is not None:
                answers[index] = _first_card(
                    first, amount=card.amount, currency=currency, product=product
                )
                continue
            if product is not None:
                _check_product(product, merchant=merchant, amount=card.amount, currency=currency)
            if expiry_refusal is not None:
                raise expiry_refusal
        except ApplicationError as exc:
            answers[index] = exc
            continue
        sealed = codes.seal(codes.generate())
        row = GiftCard(
            merchant=merchant,
            product=product,
            currency=currency,
            initial_amount=card.amount,
            balance=card.amount,
            status=CardStatus.ACTIVE,
            reloadable=product.reloadable if product is not None else True,
            code_digest=sealed.digest,
            code_encrypted=sealed.encrypted,
            last4=sealed.last4,
            expires_at=expiry,
            recipient_email=card.recipient_email,
            recipient_phone=card.recipient_phone,
            metadata=card.metadata,
            issued_by=actor if isinstance(actor, User) else None,
            created_at=now,
            updated_at=now,
        )
        new.append((index, sealed, row))
    if new:
        GiftCard.objects.bulk_create([row for _, _, row in new])
        ledger = Transaction.objects.bulk_create(
            [
                Transaction(
                    merchant_id=merchant.pk,
                    gift_card=row,
                    kind=TransactionKind.ISSUE,
                    amount=row.initial_amount,
                    balance_after=row.balance,
                    currency=currency,
                    reference=cards[index].reference[:200],
                    idempotency_key=cards[index].idempotency_key[: idempotency.MAX_KEY_LENGTH],
                    created_at=now,
                    **_actor_fields(actor),
                )
                for index, _, row in new
            ]
        )
        for (index, sealed, row), txn in zip(new, ledger, strict=True):
            answers[index] = IssuedCard(card=row, code=sealed.plain, transaction=txn)
        card_cache.invalidate_cards_on_commit((row.merchant_id, row.public_id) for _, _, row in new)
    done = [answer for answer in answers if answer is not None]
    assert len(done) == len(cards)  # every card has its answer
    return done


def _same_movement(
    kind: str, *, amount: int | None = None, card: Callable[[GiftCard], bool] | None = None
) -> Callable[[Transaction], bool]:
    def same(first: Transaction) -> bool:
        return (
            first.kind == kind
            and (amount is None or first.amount == amount)
            and (card is None or card(first.gift_card))
        )

    return same


def _card_is(card_id: int | None, public_id: str | None) -> Callable[[GiftCard], bool]:
    return lambda card: card.pk == card_id if card_id is not None else card.public_id == public_id


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

    def move() -> Transaction:
        card = lock_card(merchant=merchant, card_id=card_id, public_id=public_id)
        return _redeem_locked(
            card,
            amount=amount,
            currency=currency,
            reference=reference,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    return _once(
        merchant=merchant,
        idempotency_key=idempotency_key,
        same=_same_movement(
            TransactionKind.REDEEM, amount=-amount, card=_card_is(card_id, public_id)
        ),
        move=move,
    )


def giftcard_redeem_by_code(
    *,
    client: LookupClient,
    code: str,
    amount: int,
    currency: str | None = None,
    reference: str = "",
    actor: Actor = None,
    idempotency_key: str = "",
) -> Transaction:
    """Find the card by its code and spend from it in one call (a till scanning a card):
    found and locked in one query, within the client's lookup budgets
    (``giftcards.lookups``); an unknown code is counted once the transaction has rolled
    back."""
    _check_amount(amount)

    def move() -> Transaction:
        card = lock_card_by_code(client=client, code=code)
        return _redeem_locked(
            card,
            amount=amount,
            currency=currency,
            reference=reference,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    return _once(
        merchant=client.merchant,
        idempotency_key=idempotency_key,
        same=_same_movement(
            TransactionKind.REDEEM,
            amount=-amount,
            card=lambda card: card.code_digest == codes.digest(codes.normalise(code)),
        ),
        move=move,
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
        answers=True,
    )


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

    def move() -> Transaction:
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

    return _once(
        merchant=merchant,
        idempotency_key=idempotency_key,
        same=_same_movement(
            TransactionKind.RELOAD, amount=amount, card=_card_is(card_id, public_id)
        ),
        move=move,
    )


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

    def move() -> Transaction:
        return _refund(
            merchant=merchant,
            transaction_id=transaction_id,
            amount=amount,
            reference=reference,
            reason=reason,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def same(first: Transaction) -> bool:
        return (
            first.kind == TransactionKind.REFUND
            and first.related_id == transaction_id
            and (amount is None or first.amount == amount)
        )

    return _once(merchant=merchant, idempotency_key=idempotency_key, same=same, move=move)


def _refund(
    *,
    merchant: Merchant,
    transaction_id: int,
    amount: int | None,
    reference: str,
    reason: str,
    actor: Actor,
    idempotency_key: str,
) -> Transaction:
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
    if card.refund_refusal(now) is not None:
        raise CardNotActive(_refusal_detail(card))
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


def giftcard_adjust(
    *,
    merchant: Merchant,
    card_id: int,
    amount: int,
    reason: str,
    actor: Actor = None,
    reference: str = "",
    idempotency_key: str = "",
) -> Transaction:
    """A manual correction, up or down, always with a reason."""
    if not reason.strip():
        raise ReasonRequired("Say why the balance is being adjusted.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount("The adjustment must be a whole number of minor units, not 0.")
    _check_amount(abs(amount))

    def move() -> Transaction:
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
            idempotency_key=idempotency_key,
        )

    return _once(
        merchant=merchant,
        idempotency_key=idempotency_key,
        same=_same_movement(TransactionKind.ADJUST, amount=amount, card=_card_is(card_id, None)),
        move=move,
    )


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

    def move() -> Transaction:
        card = lock_card(merchant=merchant, card_id=card_id, public_id=public_id)
        return _void_locked(card, reason=reason, actor=actor, idempotency_key=idempotency_key)

    return _once(
        merchant=merchant,
        idempotency_key=idempotency_key,
        same=_same_movement(TransactionKind.VOID, card=_card_is(card_id, public_id)),
        move=move,
    )


def _void_locked(card: GiftCard, *, reason: str, actor: Actor, idempotency_key: str) -> Transaction:
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
def giftcards_take_back(
    *,
    merchant: Merchant,
    card_ids: list[int],
    reason: str,
    actor: Actor = None,
    idempotency_key: str,
    before_void: Callable[[], object] | None = None,
) -> list[Transaction]:
    """Void every one of the cards, or none (an order's refund takes its cards back).

    The cards are locked in id order, so no redemption slips in between the check and
    the voids. Refused with ``CardsAlreadyUsed``, nothing changed, when any was spent
    from, voided or expired. ``before_void`` runs after every check, under the locks (a
    provider's refund: money goes back only for cards that will be voided, and its
    refusal rolls nothing forward). Each card is voided under ``idempotency_key`` and its
    pk; a repeat returns the first call's voids without running ``before_void``.
    """
    if not idempotency_key:
        # Without a key, earlier keyless voids would read as this call's repeat, and
        # the provider step would be skipped.
        raise ValueError("giftcards_take_back needs an idempotency key.")
    keys = {pk: idempotency.per_card(idempotency_key, pk) for pk in set(card_ids)}
    cards = lock_cards(merchant=merchant, card_ids=card_ids)
    done = {
        txn.gift_card_id: txn
        for txn in Transaction.objects.filter(
            merchant=merchant, kind=TransactionKind.VOID, idempotency_key__in=keys.values()
        )
    }
    if cards and all(card.pk in done for card in cards):
        return [idempotency.repeat_of(done[card.pk], same=True) for card in cards]
    used = [card for card in cards if not card.is_untouched]
    if used:
        endings = ", ".join(f"…{card.last4}" for card in used)
        raise CardsAlreadyUsed(
            f"{len(used)} of the {len(cards)} cards ({endings}) "
            f"{'has' if len(used) == 1 else 'have'} already been used.",
            used=used,
            total=len(cards),
        )
    if before_void is not None:
        before_void()
    return [
        _void_locked(card, reason=reason, actor=actor, idempotency_key=keys[card.pk])
        for card in cards
    ]


def giftcard_hold(*, merchant: Merchant, card_id: int) -> GiftCard:
    """Lock the card for the rest of the caller's transaction and return its row, for a
    step that moves no money but must be decided one after another with the card's
    movements and with other such steps (a wallet claim, a new card link). Money never
    moves through the held row: that is the other services' work."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("giftcard_hold needs the caller's transaction to hold the lock.")
    return lock_card(merchant=merchant, card_id=card_id)


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
        reason=EXPIRY_REASON,
        status=CardStatus.EXPIRED,
    )


@dataclass(frozen=True)
class ExpiredChunk:
    """What one call of ``giftcards_expire_due`` did: the cards it expired, and the
    highest card id it reached (None when no due card was left above ``after_id``)."""

    expired: int
    last_id: int | None


@transaction.atomic(durable=True)
def giftcards_expire_due(
    *, now: datetime, after_id: int = 0, up_to_id: int | None = None, limit: int
) -> ExpiredChunk:
    """Expire the next ``limit`` due cards of every merchant, by id above ``after_id``
    (and at most ``up_to_id``), in one transaction: what ``giftcard_expire`` does to one
    card, done to all of them at once, in two statements on PostgreSQL.

    Due means still open (active, spent or pending) and dated at or before ``now``, and
    never later than the clock: ``now`` only bounds the selection, so no card is expired
    early. The cards are locked in id order and checked under the lock
    (``locks.lock_due_cards``), so a change that got there first (an adjustment, a void)
    is seen: each ``expire`` row books as breakage exactly the balance its card holds.
    Durable: the locks end with the chunk, never held over a caller's longer transaction.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    clock = timezone.now()
    cards = lock_due_cards(
        due_by=min(now, clock),
        after_id=after_id,
        up_to_id=MAX_ID if up_to_id is None else up_to_id,
        limit=limit,
    )
    if not cards:
        return ExpiredChunk(expired=0, last_id=None)
    if connection.vendor == "postgresql":
        _write_expiries_in_sql(cards, now=clock)
    else:
        _write_expiries_with_orm(cards, now=clock)
    card_cache.invalidate_cards_on_commit((card.merchant_id, card.public_id) for card in cards)
    return ExpiredChunk(expired=len(cards), last_id=max(card.id for card in cards))


# Of each card's ``expire`` row, what comes from the card; the other columns are the
# same for every card of the chunk (``_expire_fixed``).
_EXPIRE_PER_CARD = ("gift_card_id", "merchant_id", "public_id", "amount", "currency")


def _expire_fixed(now: datetime) -> dict[str, Any]:
    return {
        "kind": TransactionKind.EXPIRE.value,
        "balance_after": 0,
        "reference": "",
        "reason": EXPIRY_REASON,
        "related_id": None,
        "actor_user_id": None,
        "actor_api_key_id": None,
        "idempotency_key": "",
        "created_at": now,
    }


@cache
def _expire_sql() -> tuple[str, tuple[str, ...]]:
    """The statement that writes a chunk's ``expire`` rows and zeroes its cards, and the
    order of the fixed columns' parameters. Built from the model, so a new ledger column
    that nobody fills stops it here rather than in the database."""
    fields = {f.column: f for f in Transaction._meta.concrete_fields if not f.primary_key}
    fixed = tuple(column for column in fields if column not in _EXPIRE_PER_CARD)
    unknown = set(fixed) - set(_expire_fixed(timezone.now()))
    assert not unknown, f"the expiry job does not fill ledger column(s) {sorted(unknown)}"
    values = ", ".join(
        f"e.{column}"
        if column in _EXPIRE_PER_CARD
        else f"CAST(%s AS {fields[column].db_type(connection)})"
        for column in fields
    )
    arrays = ", ".join(f"%s::{fields[column].db_type(connection)}[]" for column in _EXPIRE_PER_CARD)
    # Built from model metadata only, never from input.
    sql = (
        "WITH expired AS ("  # noqa: S608
        "UPDATE giftcards_giftcard SET balance = 0, status = %s, updated_at = %s "
        "WHERE id = ANY(%s::bigint[])) "
        f"INSERT INTO giftcards_transaction ({', '.join(fields)}) SELECT {values} "
        f"FROM unnest({arrays}) AS e({', '.join(_EXPIRE_PER_CARD)})"
    )
    return sql, fixed


def _write_expiries_in_sql(cards: list[DueCard], *, now: datetime) -> None:
    """PostgreSQL: every card's ``expire`` row and its new balance in one statement,
    whatever the size of the chunk (the cards' values travel as arrays)."""
    sql, fixed = _expire_sql()
    at = connection.ops.adapt_datetimefield_value(now)
    constants = {**_expire_fixed(now), "created_at": at}
    new_public_id = Transaction._meta.get_field("public_id").get_default
    ids = [card.id for card in cards]
    per_card = [
        ids,
        [card.merchant_id for card in cards],
        [new_public_id() for _ in cards],
        [-card.balance for card in cards],
        [card.currency for card in cards],
    ]
    params = [CardStatus.EXPIRED.value, at, ids, *(constants[c] for c in fixed), *per_card]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _write_expiries_with_orm(cards: list[DueCard], *, now: datetime) -> None:
    """Other databases (SQLite in development and tests): the same rows, through the ORM."""
    Transaction.objects.bulk_create(
        [
            Transaction(
                gift_card_id=card.id,
                merchant_id=card.merchant_id,
                amount=-card.balance,
                currency=card.currency,
                **_expire_fixed(now),
            )
            for card in cards
        ]
    )
    GiftCard.objects.filter(pk__in=[card.id for card in cards]).update(
        balance=0, status=CardStatus.EXPIRED, updated_at=now
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
