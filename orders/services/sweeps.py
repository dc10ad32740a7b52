"""Periodic sweeps over orders: cancelling abandoned checkouts (pending -> cancelled).

A pending order nobody paid within the TTL is cancelled. A Stripe order's Checkout
Session is expired at Stripe first, so the buyer can no longer pay it, and that call is
made with no row lock held and no transaction open (a slow provider never holds an
order's lock). The move is then checked again under the order's lock, skipping an order
someone else holds: it is cancelled only if it is still pending, still past the cutoff
and still on the checkout that was closed. An order paid meanwhile, or given a new
checkout, is never cancelled; a provider that fails or says the session is complete
leaves the order as it was for the next sweep. Running a sweep again changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import stripe
import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.locks import lock_abandoned_order
from orders.models import Order, OrderStatus, PaymentProvider
from orders.services.ordering import order_cancel

logger = structlog.get_logger(__name__)

ABANDONED_REASON = "The checkout was abandoned: the order was not paid in time."
_EXPIRY_BATCH = 500


def orders_expire_abandoned(
    *, older_than: timedelta = timedelta(hours=24), now: datetime | None = None
) -> int:
    """Cancel every pending order created more than ``older_than`` before ``now``; the
    number cancelled. Call it outside a transaction (the periodic task does): the
    provider is asked between two of them.

    Each order is taken on its own. A Stripe order's Checkout Session is expired at
    Stripe first, with no lock held, so the buyer can no longer pay it; an order whose
    session Stripe reports complete (or that Stripe cannot answer for) stays pending, as
    its payment confirmation may still be on its way. The order is then cancelled
    through ``order_cancel`` under its lock, if it is still pending on the same checkout;
    an order locked by someone else (a checkout being opened, a payment arriving) is
    skipped, never waited for: the next run looks again. Running it again changes
    nothing."""
    cutoff = (now or timezone.now()) - older_than
    stale = Order.objects.filter(status=OrderStatus.PENDING, created_at__lt=cutoff)
    cancelled = 0
    last_pk = 0
    while True:
        batch = list(
            stale.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:_EXPIRY_BATCH]
        )
        for order_id in batch:
            if _expire_abandoned_order(order_id=order_id, cutoff=cutoff):
                cancelled += 1
        if len(batch) < _EXPIRY_BATCH:
            break
        last_pk = batch[-1]
    if cancelled:
        logger.info("abandoned_orders_cancelled", count=cancelled, older_than=str(older_than))
    return cancelled


def _expire_abandoned_order(*, order_id: int, cutoff: datetime) -> bool:
    # Read without a lock: what the provider is asked about. Paid or cancelled since the
    # batch was listed: nothing to ask.
    seen = (
        Order.objects.filter(pk=order_id, status=OrderStatus.PENDING, created_at__lt=cutoff)
        .only("pk", "public_id", "provider", "provider_reference")
        .first()
    )
    if seen is None:
        return False
    # No row lock and no transaction of ours around the provider: a slow or hanging
    # provider never holds up a checkout or a payment of this order.
    if not _checkout_closed_at_provider(seen):
        return False
    with transaction.atomic():
        # The same order, still pending on the checkout that was closed: one paid
        # meanwhile, or given a new checkout (which is open), is left alone, as is one
        # that someone holds right now.
        order = lock_abandoned_order(
            order_id=order_id,
            cutoff=cutoff,
            provider=seen.provider,
            provider_reference=seen.provider_reference,
        )
        if order is None:
            logger.info("abandoned_order_skipped", order=seen.public_id, why="changed_or_held")
            return False
        order_cancel(order_id=order.pk, reason=ABANDONED_REASON)
    return True


def _checkout_closed_at_provider(order: Order) -> bool:
    """Whether the order's checkout can no longer be paid. Only a Stripe Checkout Session
    can still be: it is expired at Stripe, and the order is closed only if Stripe
    confirms the session expired (now or earlier)."""
    if order.provider != PaymentProvider.STRIPE or not order.provider_reference:
        return True
    session_id = order.provider_reference
    api_key = str(settings.STRIPE_SECRET_KEY or "")
    if not api_key:
        logger.warning("abandoned_order_kept", order=order.public_id, why="stripe_not_configured")
        return False
    try:
        session = stripe.checkout.Session.expire(session_id, api_key=api_key)
    except stripe.InvalidRequestError:
        # Only an open session can be expired: ask what it became instead.
        try:
            session = stripe.checkout.Session.retrieve(session_id, api_key=api_key)
        except stripe.StripeError as exc:
            logger.warning("abandoned_order_kept", order=order.public_id, error=type(exc).__name__)
            return False
    except stripe.StripeError as exc:
        logger.warning("abandoned_order_kept", order=order.public_id, error=type(exc).__name__)
        return False
    status = str(getattr(session, "status", "") or "")
    if status == "expired":
        return True
    payment_status = str(getattr(session, "payment_status", "") or "")
    if status == "complete" and payment_status == "paid":
        # Paid at Stripe long ago and still not paid here: the confirmation was lost and
        # the buyer has paid for cards they do not have. Someone must look.
        logger.error(
            "abandoned_order_paid_at_stripe",
            order=order.public_id,
            session=session_id,
            payment_status=payment_status,
        )
        return False
    # Complete with a payment still settling (a bank debit): its outcome will come.
    logger.warning(
        "abandoned_order_kept",
        order=order.public_id,
        session_status=status,
        payment_status=payment_status,
    )
    return False
