"""Returning an order's money at the provider it was paid through.

Stripe: a refund of the order's PaymentIntent, with the idempotency key
``refund:<order public id>`` so that a retried refund never refunds twice. Stripe then
sends ``charge.refunded``, which finds the order already refunded and changes nothing.
No amount is sent, so Stripe returns the whole payment in its own units; a partial
refund would have to send its amount through ``units.to_provider`` like the checkout.
The test provider moved no money, so there is nothing to return.
"""

from __future__ import annotations

import stripe
import structlog
from django.conf import settings

from orders.exceptions import PaymentProviderError
from orders.models import Order, PaymentProvider

logger = structlog.get_logger(__name__)


def refund_idempotency_key(order: Order) -> str:
    return f"refund:{order.public_id}"


def refund_at_provider(order: Order) -> str:
    """Refund the whole of ``order`` at its provider; the provider's refund id ("" for the
    test provider). Raises ``PaymentProviderError`` when the provider refuses or cannot be
    reached, so the caller can leave the order as it was."""
    if order.provider == PaymentProvider.TEST:
        return ""
    if order.provider == PaymentProvider.STRIPE:
        return _stripe_refund(order)
    raise PaymentProviderError("This order's payment provider cannot refund it from here.")


def _stripe_refund(order: Order) -> str:
    if not order.provider_payment_id:
        raise PaymentProviderError(
            "No Stripe payment is recorded for this order; refund it in the Stripe dashboard."
        )
    api_key = str(settings.STRIPE_SECRET_KEY or "")
    if not api_key:
        raise PaymentProviderError("Card payments are not configured, so Stripe cannot refund.")
    try:
        refund = stripe.Refund.create(
            payment_intent=order.provider_payment_id,
            idempotency_key=refund_idempotency_key(order),
            api_key=api_key,
        )
    except stripe.StripeError as exc:
        logger.error("stripe_refund_failed", order=order.public_id, error=type(exc).__name__)
        raise PaymentProviderError(
            "Stripe did not accept the refund, so nothing was changed. Please try again "
            "in a moment."
        ) from exc
    refund_id = str(getattr(refund, "id", "") or "")
    logger.info("stripe_refund_created", order=order.public_id, refund=refund_id)
    return refund_id
