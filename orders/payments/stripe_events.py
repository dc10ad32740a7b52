"""Stripe's webhook events, applied to orders exactly once.

Each event id is recorded (``PaymentEvent``) in the same transaction as its effect: a
repeated delivery finds its id and changes nothing, and an error rolls both back so
Stripe's retry applies it later. Events that arrive out of order or late are recorded,
logged and ignored: a ``completed`` for an order that already failed or expired, an
``expired`` for an order that is paid, a second ``completed``. A payment for an order
that is closed (failed, or cancelled as an abandoned checkout) issues no cards and is
logged as an error: the money is at Stripe and must be refunded there.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import IntegrityError, transaction

from orders.exceptions import IllegalOrderTransition, PaymentMismatch, RefundRefused
from orders.models import Order, PaymentEvent, PaymentEventOutcome, PaymentProvider
from orders.services import order_mark_failed, order_mark_paid, order_refund

logger = structlog.get_logger(__name__)

Outcome = tuple[str, str]

# Events that say no money moved: one arriving for a closed order needs nobody.
_NO_PAYMENT_EVENTS = frozenset(
    {"checkout.session.expired", "checkout.session.async_payment_failed"}
)


_SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)


def _find_order(event_type: str, obj: dict[str, Any]) -> Order | None:
    orders = Order.objects.select_related("merchant").filter(provider=PaymentProvider.STRIPE)
    metadata = obj.get("metadata") or {}
    public_id = metadata.get("order_id") or ""
    if event_type in _SESSION_EVENTS:
        found = orders.filter(provider_reference=obj.get("id") or "").first()
        if found is not None:
            return found
        public_id = public_id or obj.get("client_reference_id") or ""
    elif event_type == "charge.refunded" and obj.get("payment_intent"):
        found = orders.filter(provider_payment_id=obj["payment_intent"]).first()
        if found is not None:
            return found
    return orders.filter(public_id=public_id).first() if public_id else None


def _paid(order: Order, session: dict[str, Any]) -> Outcome:
    if session.get("payment_status") != "paid":
        return PaymentEventOutcome.IGNORED, "payment not completed yet (asynchronous method)"
    before = order.status
    updated = order_mark_paid(
        order_id=order.pk,
        provider_reference=str(session.get("id") or ""),
        amount=session.get("amount_total"),  # type: ignore[arg-type]
        currency=str(session.get("currency") or ""),
        provider_payment_id=str(session.get("payment_intent") or ""),
    )
    if before == updated.status:
        return PaymentEventOutcome.IGNORED, f"order already {updated.status}"
    return PaymentEventOutcome.APPLIED, f"order {updated.status}"


def _failed(order: Order, session: dict[str, Any], reason: str) -> Outcome:
    if order.provider_reference and session.get("id") != order.provider_reference:
        return PaymentEventOutcome.IGNORED, "an earlier checkout of this order"
    before = order.status
    updated = order_mark_failed(order_id=order.pk, reason=reason)
    if before == updated.status:
        return PaymentEventOutcome.IGNORED, "order already failed"
    return PaymentEventOutcome.APPLIED, "order failed"


def _refunded(order: Order, charge: dict[str, Any]) -> Outcome:
    if not charge.get("refunded"):
        return PaymentEventOutcome.IGNORED, "partial refund: cards left as they are"
    before = order.status
    updated = order_refund(order_id=order.pk, reason="Refunded through Stripe", at_provider=False)
    if before == updated.status:
        return PaymentEventOutcome.IGNORED, "order already refunded"
    return PaymentEventOutcome.APPLIED, "order refunded"


def _apply(event_type: str, order: Order, obj: dict[str, Any]) -> Outcome:
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return _paid(order, obj)
    if event_type == "checkout.session.async_payment_failed":
        return _failed(order, obj, "The payment did not go through.")
    if event_type == "checkout.session.expired":
        return _failed(order, obj, "The checkout expired before payment.")
    if event_type == "charge.refunded":
        return _refunded(order, obj)
    return PaymentEventOutcome.IGNORED, "event type not handled"


def handle_event(event: dict[str, Any]) -> PaymentEvent | None:
    """Apply one verified event; None when this event id was already handled."""
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = PaymentEvent.objects.create(
                    provider=PaymentProvider.STRIPE, event_id=event_id, type=event_type
                )
        except IntegrityError:
            logger.info("stripe_event_duplicate", event_id=event_id, type=event_type)
            return None
        order = _find_order(event_type, obj)
        outcome: str
        detail: str
        if order is None:
            outcome, detail = PaymentEventOutcome.IGNORED, "no matching order"
        else:
            try:
                outcome, detail = _apply(event_type, order, obj)
            except IllegalOrderTransition as exc:
                outcome, detail = PaymentEventOutcome.IGNORED, exc.detail
                if event_type not in _NO_PAYMENT_EVENTS:
                    # Money may have moved for an order that is closed: a payment for a
                    # failed or cancelled order issues no cards, so someone must refund it.
                    logger.error(
                        "stripe_event_for_closed_order",
                        event_id=event_id,
                        type=event_type,
                        order=order.public_id,
                        status=order.status,
                        payment_intent=str(obj.get("payment_intent") or ""),
                    )
            except (PaymentMismatch, RefundRefused) as exc:
                outcome, detail = PaymentEventOutcome.REFUSED, exc.detail
                logger.error(
                    "stripe_event_refused",
                    event_id=event_id,
                    type=event_type,
                    order=order.public_id,
                    refusal=exc.code,
                )
            record.order = order
            record.merchant_id = order.merchant_id
        record.outcome = outcome
        record.detail = detail[:300]
        record.save(update_fields=["order", "merchant", "outcome", "detail"])
    logger.info(
        "stripe_event",
        event_id=event_id,
        type=event_type,
        order=order.public_id if order else None,
        outcome=outcome,
        detail=detail,
    )
    return record
