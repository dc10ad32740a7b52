"""Placing an order (SF-2): the lines the buyer asked for, checked and priced, and giving
up an unpaid order.

Owns ``order_create`` (-> pending) and ``order_cancel`` (pending -> cancelled). Every rule
is checked before anything is written, and a refusal names the ``field`` (and ``line``)
at fault: the product is on sale by this merchant, its amount is one the product sells
(``giftcards.product_rules``) and one the configured provider can charge exactly,
quantities, message and name lengths, the recipient of a gift (an email through
``core.contact.normalise_email``, a phone through ``normalise_phone``), a delivery date
with a zone within a year, a known time zone, one currency per order and a total the
platform can hold. Money is integer minor units in the order's currency.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.contact import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from core.money import MAX_AMOUNT
from giftcards.models import Product
from giftcards.product_rules import product_amount_refusal
from merchants.models import Merchant
from orders.exceptions import (
    AmountNotAllowed,
    AmountNotChargeable,
    CurrencyMismatch,
    InvalidDeliveryDate,
    InvalidOrder,
    MerchantUnavailable,
    ProductUnavailable,
    RecipientRequired,
)
from orders.locks import lock_order
from orders.models import MAX_MESSAGE_LENGTH, MAX_QUANTITY, Order, OrderLine, OrderStatus
from orders.payments import configured_provider, units
from orders.services.state import move_order, refuse_transition

logger = structlog.get_logger(__name__)

MAX_LINES = 20
MAX_SCHEDULE_AHEAD = timedelta(days=365)
# A date picked "now" in a form is a few seconds old when it arrives.
PAST_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class LineRequest:
    """One line of an order as the buyer asked for it."""

    product: Product
    amount: int
    quantity: int = 1
    is_gift: bool = False
    recipient_name: str = ""
    recipient_email: str = ""
    recipient_phone: str = ""
    message: str = ""
    deliver_at: datetime | None = None
    buyer_timezone: str = ""


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_whole(value: object) -> bool:
    """An int and not a bool: quantities and provider amounts must be whole numbers."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_product(product: Product, *, merchant: Merchant, index: int) -> None:
    if product.merchant_id != merchant.pk or not product.is_active:
        raise ProductUnavailable(
            "This gift card is not on sale any more.", field="product", line=index
        )


def _check_amount(product: Product, amount: int, *, index: int) -> None:
    refusal = product_amount_refusal(product, amount)
    if refusal is not None:
        raise AmountNotAllowed(refusal, field="amount", line=index)


def _normalise_phone(raw: str, *, index: int) -> str:
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        raise InvalidOrder(
            "Enter the recipient's mobile number in international format, e.g. +447700900123.",
            field="recipient_phone",
            line=index,
        ) from None


def _normalise_email(raw: str, *, field: str, index: int | None, whose: str) -> str:
    try:
        return normalise_email(raw)
    except InvalidEmail:
        raise InvalidOrder(
            f"Enter a valid email address for {whose}.", field=field, line=index
        ) from None


def _check_deliver_at(deliver_at: datetime | None, *, now: datetime, index: int) -> None:
    if deliver_at is None:
        return
    if not isinstance(deliver_at, datetime) or timezone.is_naive(deliver_at):
        raise InvalidDeliveryDate(
            "The delivery date needs a time zone.", field="deliver_at", line=index
        )
    if deliver_at < now - PAST_GRACE:
        raise InvalidDeliveryDate(
            "The delivery date is in the past: choose a later one, or deliver at once.",
            field="deliver_at",
            line=index,
        )
    if deliver_at > now + MAX_SCHEDULE_AHEAD:
        raise InvalidDeliveryDate(
            "Cards can be scheduled up to one year ahead.", field="deliver_at", line=index
        )


def _check_chargeable(product: Product, amount: int, *, provider: str, index: int) -> None:
    refusal = units.charge_refusal(amount, product.currency, provider=provider)
    if refusal is not None:
        raise AmountNotChargeable(refusal, field="amount", line=index)


def _build_line(
    merchant: Merchant, request: LineRequest, *, index: int, now: datetime, provider: str
) -> OrderLine:
    product = request.product
    _check_product(product, merchant=merchant, index=index)
    _check_amount(product, request.amount, index=index)
    _check_chargeable(product, request.amount, provider=provider, index=index)
    if not is_whole(request.quantity) or not 1 <= request.quantity <= MAX_QUANTITY:
        raise InvalidOrder(
            f"Choose between 1 and {MAX_QUANTITY} cards.", field="quantity", line=index
        )
    message = (request.message or "").strip()
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidOrder(
            f"The message can be at most {MAX_MESSAGE_LENGTH} characters.",
            field="message",
            line=index,
        )
    recipient_name = (request.recipient_name or "").strip()
    if len(recipient_name) > 120:
        raise InvalidOrder(
            "The recipient's name can be at most 120 characters.",
            field="recipient_name",
            line=index,
        )
    email = phone = ""
    if request.is_gift:
        if (
            not (request.recipient_email or "").strip()
            and not (request.recipient_phone or "").strip()
        ):
            raise RecipientRequired(
                "Tell us where to send the gift: the recipient's email address or mobile number.",
                field="recipient_email",
                line=index,
            )
        if (request.recipient_email or "").strip():
            email = _normalise_email(
                request.recipient_email, field="recipient_email", index=index, whose="the recipient"
            )
        if (request.recipient_phone or "").strip():
            phone = _normalise_phone(request.recipient_phone, index=index)
    _check_deliver_at(request.deliver_at, now=now, index=index)
    tz_name = (request.buyer_timezone or "").strip()
    if tz_name and tz_name not in _timezones():
        raise InvalidOrder("Unknown time zone.", field="buyer_timezone", line=index)
    return OrderLine(
        merchant=merchant,
        product=product,
        amount=request.amount,
        quantity=request.quantity,
        is_gift=request.is_gift,
        recipient_name=recipient_name if request.is_gift else "",
        recipient_email=email,
        recipient_phone=phone,
        message=message,
        deliver_at=request.deliver_at,
        buyer_timezone=tz_name,
    )


def order_create(
    *,
    merchant: Merchant,
    buyer: User | None,
    buyer_email: str,
    buyer_name: str,
    lines: list[LineRequest],
) -> Order:
    """A pending order for ``lines``, priced in the products' currency.

    Every rule is checked before anything is written: a refusal raises an
    ``OrderError`` naming the ``field`` (and ``line``) at fault and creates nothing.
    That includes an amount the configured payment provider cannot charge exactly
    (``AmountNotChargeable``, e.g. 5.125 KWD where Stripe takes steps of 0.010)."""
    if not merchant.is_active:
        raise MerchantUnavailable("This shop is not selling gift cards at the moment.")
    email = _normalise_email(buyer_email or "", field="buyer_email", index=None, whose="yourself")
    name = (buyer_name or "").strip()
    if len(name) > 120:
        raise InvalidOrder("Your name can be at most 120 characters.", field="buyer_name")
    if not lines:
        raise InvalidOrder("Add at least one gift card to the order.", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidOrder(f"An order can hold at most {MAX_LINES} lines.", field="lines")
    now = timezone.now()
    provider = configured_provider()
    built = [
        _build_line(merchant, line, index=i, now=now, provider=provider)
        for i, line in enumerate(lines)
    ]
    currency = lines[0].product.currency
    for index, line in enumerate(lines):
        if line.product.currency != currency:
            raise CurrencyMismatch(
                f"One order is paid in one currency: this card is sold in "
                f"{line.product.currency}, the order in {currency}.",
                field="product",
                line=index,
            )
    total = sum(line.amount * line.quantity for line in built)
    if total > MAX_AMOUNT:
        raise AmountNotAllowed("The order total is larger than we can take.", field="amount")
    with transaction.atomic():
        order = Order.objects.create(
            merchant=merchant,
            buyer=buyer,
            buyer_email=email,
            buyer_name=name,
            currency=currency,
            total=total,
            provider=provider,
            created_at=now,
            updated_at=now,
        )
        for built_line in built:
            built_line.order = order
        OrderLine.objects.bulk_create(built)
    logger.info(
        "order_created",
        order=order.public_id,
        merchant=merchant.slug,
        total=total,
        currency=currency,
        lines=len(built),
        provider=order.provider,
    )
    return order


def order_cancel(*, order_id: int, reason: str = "") -> Order:
    """The buyer or the shop gives up an unpaid order: pending -> cancelled."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status == OrderStatus.CANCELLED:
            return order
        if order.status != OrderStatus.PENDING:
            raise refuse_transition(order, action="cancelled")
        now = timezone.now()
        move_order(
            order,
            status=OrderStatus.CANCELLED,
            now=now,
            cancelled_at=now,
            failed_reason=reason[:300],
        )
    return order
