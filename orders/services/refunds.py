"""Refunding an order: paid or fulfilled -> refunded, every card of the order voided.

Refused, with nothing changed, when any card was used (spent from, voided or expired).
The money goes back through the provider (``orders.payments.refunds``) *inside* the
order's lock and the cards' locks, after every check, and on purpose: "no card was
used" is only true while the cards are locked, so calling the provider after releasing
them would let a redemption slip in between the check and the money going back (the
buyer would keep both). Stripe's refund carries an idempotency key per order, so a retry
after a rolled-back transaction never refunds twice; a provider that refuses raises
before anything here is written, and the order, its cards and their ledgers stay as
they were.
"""

from __future__ import annotations

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from giftcards.exceptions import CardsAlreadyUsed
from giftcards.idempotency import order_refund_key
from giftcards.services import giftcards_take_back
from orders.exceptions import RefundRefused
from orders.locks import lock_order
from orders.models import CardDelivery, DeliveryStatus, FulfilledCard, Order, OrderStatus
from orders.payments.refunds import refund_at_provider
from orders.services.state import move_order, refuse_transition

logger = structlog.get_logger(__name__)


def order_refund(
    *,
    order_id: int,
    reason: str = "",
    actor: User | None = None,
    at_provider: bool = True,
) -> Order:
    """Paid or fulfilled -> refunded, voiding every card of the order.

    Refused, with nothing changed, when any card was used (spent from, voided or
    expired): the cards are locked first, so no redemption slips in between the check
    and the void. With ``at_provider`` the money goes back through the provider first
    (Stripe: a refund of the PaymentIntent, idempotent per order); a provider that
    refuses leaves the order, its cards and their ledgers as they were. The provider's
    own refund notice (``charge.refunded``) passes ``at_provider=False`` and finds the
    order already refunded."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status == OrderStatus.REFUNDED:
            return order
        if order.status not in (OrderStatus.PAID, OrderStatus.FULFILLED):
            raise refuse_transition(order, action="refunded")
        card_ids = list(
            FulfilledCard.objects.filter(order=order)
            .order_by("gift_card_id")
            .values_list("gift_card_id", flat=True)
        )
        note = reason.strip() or f"Order {order.public_id} refunded"
        try:
            # The cards are locked and checked, the provider refunds (inside the lock and
            # after every check: money goes back only for an order that will be refunded
            # here, and a provider refusal rolls nothing forward), then each is voided.
            giftcards_take_back(
                merchant=order.merchant,
                card_ids=card_ids,
                reason=note,
                actor=actor,
                idempotency_key=order_refund_key(order=order.public_id),
                before_void=(lambda: refund_at_provider(order)) if at_provider else None,
            )
        except CardsAlreadyUsed as exc:
            used = exc.used
            logger.warning("order_refund_refused", order=order.public_id, used_cards=len(used))
            endings = ", ".join(f"…{card.last4}" for card in used)
            raise RefundRefused(
                f"This order cannot be refunded: {len(used)} of its {exc.total} cards "
                f"({endings}) {'has' if len(used) == 1 else 'have'} already been used.",
                extra={"used_cards": [card.public_id for card in used]},
            ) from None
        now = timezone.now()
        CardDelivery.objects.filter(order=order, status=DeliveryStatus.SCHEDULED).update(
            status=DeliveryStatus.CANCELLED, failure_reason="Order refunded"
        )
        move_order(order, status=OrderStatus.REFUNDED, now=now, refunded_at=now)
        logger.info("order_refunded", order=order.public_id, cards_voided=len(card_ids))
    return order
