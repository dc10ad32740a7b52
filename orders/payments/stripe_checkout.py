"""Stripe Checkout: the buyer pays on Stripe's page; its webhook tells us the outcome.

The session is created (or an open one reused) under the order's row lock, so two
clicks on "Pay" never open two payable sessions for one order. That lock is held across
the call to Stripe on purpose: made outside it, two clicks could each create a session,
and closing the extra one would be another call that can fail, leaving two sessions the
buyer can pay. Whoever waits is brief and bounded: the sweep of abandoned checkouts skips
a locked order rather than wait, and a payment confirmation waits at most for that
checkout's calls to Stripe.
"""

from __future__ import annotations

from typing import Any

import stripe
import structlog
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from core.site import site_url
from orders.exceptions import IllegalOrderTransition, PaymentProviderError
from orders.locks import lock_order
from orders.models import Order, OrderStatus, PaymentProvider
from orders.payments.units import to_provider
from orders.services import order_access_token

logger = structlog.get_logger(__name__)


def _api_key() -> str:
    key = str(settings.STRIPE_SECRET_KEY or "")
    if not key:
        raise PaymentProviderError("Card payments are not configured for this shop.")
    return key


def status_url(order: Order, *, outcome: str) -> str:
    path = reverse("orders:status", kwargs={"public_id": order.public_id})
    return f"{site_url()}{path}?t={order_access_token(order)}&checkout={outcome}"


def session_params(order: Order) -> dict[str, Any]:
    """What Stripe is asked for: one line item per order line, each ``unit_amount`` in
    Stripe's units of the order's currency (``units.to_provider``). Raises
    ``AmountNotChargeable`` for a line Stripe cannot charge exactly."""
    lines = order.lines.select_related("product").order_by("pk")
    metadata = {"order_id": order.public_id, "merchant": order.merchant.slug}
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": line.quantity,
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": to_provider(
                        line.amount, order.currency, provider=PaymentProvider.STRIPE
                    ),
                    "product_data": {
                        "name": f"{line.product.name} gift card ({order.merchant.name})"
                    },
                },
            }
            for line in lines
        ],
        "client_reference_id": order.public_id,
        "customer_email": order.buyer_email,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": status_url(order, outcome="success"),
        "cancel_url": status_url(order, outcome="cancelled"),
    }


def start_checkout(order: Order, *, request: HttpRequest) -> str:
    api_key = _api_key()
    with transaction.atomic():
        locked = lock_order(order_id=order.pk)
        if locked.status != OrderStatus.PENDING:
            raise IllegalOrderTransition(
                f"This order cannot be paid: it is {locked.get_status_display().lower()}."
            )
        if locked.provider == PaymentProvider.STRIPE and locked.provider_reference:
            try:
                existing = stripe.checkout.Session.retrieve(
                    locked.provider_reference, api_key=api_key
                )
            except stripe.StripeError:
                existing = None
            if existing is not None and existing.status == "open" and existing.url:
                return str(existing.url)
        try:
            session = stripe.checkout.Session.create(api_key=api_key, **session_params(locked))
        except stripe.StripeError as exc:
            logger.error("stripe_checkout_failed", order=locked.public_id, error=type(exc).__name__)
            raise PaymentProviderError(
                "The payment page could not be opened. Please try again in a moment."
            ) from exc
        locked.provider = PaymentProvider.STRIPE
        locked.provider_reference = str(session.id)
        locked.save(update_fields=["provider", "provider_reference"])
    logger.info("order_checkout_started", order=locked.public_id, provider="stripe")
    return str(session.url)
