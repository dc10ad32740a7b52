"""Row locks taken by the order services, inside their transaction."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from orders.exceptions import OrderNotFound
from orders.models import CardDelivery, DeliveryStatus, Order, OrderStatus


def lock_order(*, order_id: int) -> Order:
    """The order, locked (its merchant loaded, but not locked)."""
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("merchant")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise OrderNotFound("No order with that id.")
    return order


def lock_abandoned_order(
    *, order_id: int, cutoff: datetime, provider: str, provider_reference: str
) -> Order | None:
    """The order, locked, if it is still pending since before ``cutoff`` on the checkout
    given; None if it changed, or if another transaction holds it (skipped, not waited
    for)."""
    return (
        Order.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            pk=order_id,
            status=OrderStatus.PENDING,
            created_at__lt=cutoff,
            provider=provider,
            provider_reference=provider_reference,
        )
        .first()
    )


def due_deliveries_to_claim(*, delivery_id: int) -> QuerySet[CardDelivery]:
    """The scheduled delivery, locked unless another worker holds it (then: nothing)."""
    return (
        CardDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=delivery_id, status=DeliveryStatus.SCHEDULED)
        .order_by("pk")
    )


def lock_delivery(*, delivery_id: int) -> CardDelivery | None:
    """The delivery, locked, with what a message about its card needs loaded."""
    return (
        CardDelivery.objects.select_for_update(of=("self",))
        .select_related("order__merchant", "card__gift_card", "card__line")
        .filter(pk=delivery_id)
        .first()
    )
