"""Paying for an order (SF-3): the checkout it is paid through, and the provider's word
that it was paid (pending -> paid, then fulfilment) or was not (pending -> failed).

A confirmed payment must be the order's total, in the order's currency, counted in the
units of the provider that took it (``orders.payments.units``); anything else leaves the
order pending, is logged as an error and raises ``PaymentMismatch``. A repeated
confirmation of a paid or fulfilled order changes nothing, but finishes a fulfilment that
did not complete; a second checkout of the same order paid too is logged for a refund.
No provider is called from here: the provider calls us (its webhook, or the test page).
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.money import format_money
from orders.exceptions import PaymentMismatch
from orders.locks import lock_order
from orders.models import Order, OrderStatus
from orders.payments import units
from orders.services.fulfilment import order_fulfil
from orders.services.ordering import is_whole
from orders.services.state import move_order, refuse_transition

logger = structlog.get_logger(__name__)


def order_checkout_started(*, order_id: int, provider: str, provider_reference: str = "") -> Order:
    """Record which provider (and which checkout of it) the pending order is paid through."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status != OrderStatus.PENDING:
            raise refuse_transition(order, action="paid")
        order.provider = provider
        order.provider_reference = provider_reference
        order.updated_at = timezone.now()
        order.save(update_fields=["provider", "provider_reference", "updated_at"])
    logger.info("order_checkout_started", order=order.public_id, provider=provider)
    return order


def _check_payment(order: Order, *, amount: int, currency: str) -> None:
    """Refuse a confirmed payment unless it is the order's total, in the order's
    currency, counted in the units of the provider that took it."""
    reported = (currency or "").upper()
    try:
        expected: int | None = units.to_provider(
            order.total, order.currency, provider=order.provider
        )
    except ApplicationError:
        expected = None  # an order the provider cannot charge: no payment can match it
    if is_whole(amount) and amount == expected and reported == order.currency:
        return
    logger.error(
        "order_payment_mismatch",
        order=order.public_id,
        provider=order.provider,
        expected=expected,
        expected_currency=order.currency,
        amount=amount,
        currency=reported,
    )
    try:
        paid = format_money(
            units.from_provider(amount, reported, provider=order.provider), reported
        )
    except ApplicationError:
        paid = f"{amount} {reported or '(no currency)'} in the provider's units"
    raise PaymentMismatch(
        f"The payment ({paid}) does not match the order total "
        f"({format_money(order.total, order.currency)})."
    )


def order_mark_paid(
    *,
    order_id: int,
    provider_reference: str,
    amount: int,
    currency: str,
    provider_payment_id: str = "",
) -> Order:
    """The provider confirmed payment of ``amount`` ``currency``: pending -> paid, then
    fulfil. A repeated confirmation of a paid or fulfilled order changes nothing (but
    finishes a fulfilment that did not complete).

    ``amount`` is in the units of the order's provider (Stripe's ``amount_total``), and
    is compared with the order's total converted to those units: a payment that does
    not match leaves the order pending, is logged as an error and raises
    ``PaymentMismatch``."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status in (OrderStatus.PAID, OrderStatus.FULFILLED):
            if (
                provider_reference
                and order.provider_reference
                and provider_reference != order.provider_reference
            ):
                # A second checkout of the same order was paid too: money to give back.
                logger.error(
                    "order_paid_twice",
                    order=order.public_id,
                    provider=order.provider,
                    provider_reference=provider_reference,
                )
            else:
                logger.info("order_already_paid", order=order.public_id, status=order.status)
        else:
            if order.status != OrderStatus.PENDING:
                raise refuse_transition(order, action="marked as paid")
            _check_payment(order, amount=amount, currency=currency)
            fields: dict[str, Any] = {"paid_at": timezone.now()}
            if provider_reference and not order.provider_reference:
                fields["provider_reference"] = provider_reference
            if provider_payment_id:
                fields["provider_payment_id"] = provider_payment_id
            move_order(order, status=OrderStatus.PAID, now=fields["paid_at"], **fields)
    if order.status != OrderStatus.PAID:
        return order
    try:
        return order_fulfil(order_id=order.pk)
    except ApplicationError as exc:
        # Paid stays paid: the money is taken and fulfilment can be run again.
        Order.objects.filter(pk=order.pk, status=OrderStatus.PAID).update(
            failed_reason=f"Fulfilment failed: {exc.detail}"[:300]
        )
        logger.error(
            "order_fulfilment_failed", order=order.public_id, refusal=exc.code, detail=exc.detail
        )
        order.refresh_from_db()
        return order


def order_mark_failed(*, order_id: int, reason: str = "") -> Order:
    """Payment failed, was declined or the checkout expired: pending -> failed."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status == OrderStatus.FAILED:
            return order
        if order.status != OrderStatus.PENDING:
            raise refuse_transition(order, action="marked as failed")
        now = timezone.now()
        move_order(
            order, status=OrderStatus.FAILED, now=now, failed_at=now, failed_reason=reason[:300]
        )
    return order
