"""Turning a paid order into gift cards (SF-4): paid -> fulfilled, and the receipt.

Cards are issued only from ``paid``, under the order's lock, each unit of each line with
the ledger idempotency key ``order:<public_id>:<line_id>:<unit>``: the ledger's unique
index makes an issue exactly-once even if two fulfilments ever raced past the lock. Each
card gets a ``CardDelivery`` to whoever it is for; the ones due at once, and the buyer's
receipt (which never holds a card code), go out after the transaction commits. No card
code is ever logged.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import structlog
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from communications.models import Channel, Event
from communications.services import Recipient, send
from core.money import format_money
from core.site import site_url
from giftcards.idempotency import order_unit_key
from giftcards.services import giftcard_issue
from orders.hooks import order_fulfilled
from orders.locks import lock_order
from orders.models import CardDelivery, FulfilledCard, Order, OrderLine, OrderStatus
from orders.services.state import move_order, refuse_transition
from orders.services.tokens import order_access_token

logger = structlog.get_logger(__name__)


def _card_recipient(order: Order, line: OrderLine) -> tuple[str, str]:
    if line.is_gift:
        return line.recipient_email, line.recipient_phone
    return order.buyer_email, ""


def _delivery_for(
    order: Order, line: OrderLine, fulfilled: FulfilledCard, now: datetime
) -> CardDelivery:
    email, phone = _card_recipient(order, line)
    channels = [Channel.EMAIL.value] if email else []
    if phone:
        channels.append(Channel.SMS.value)
    return CardDelivery(
        merchant_id=order.merchant_id,
        order=order,
        card=fulfilled,
        channels=channels,
        recipient_email=email,
        recipient_phone=phone,
        deliver_at=line.deliver_at or now,
        created_at=now,
    )


def order_fulfil(*, order_id: int) -> Order:
    """Issue the paid order's cards, one per unit of each line, exactly once: paid ->
    fulfilled. A fulfilled order is returned unchanged. Deliveries due at once are sent
    after the transaction commits; later ones wait for ``send_due_deliveries``."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status == OrderStatus.FULFILLED:
            logger.info("order_already_fulfilled", order=order.public_id)
            return order
        if order.status != OrderStatus.PAID:
            raise refuse_transition(order, action="fulfilled")
        now = timezone.now()
        lines = list(order.lines.select_related("product").order_by("pk"))
        deliveries: list[CardDelivery] = []
        issued = 0
        for line in lines:
            email, phone = _card_recipient(order, line)
            for unit in range(line.quantity):
                # One card per unit, by the unit's key: a repeat returns the first card.
                unit_card = giftcard_issue(
                    merchant=order.merchant,
                    amount=line.amount,
                    currency=order.currency,
                    product=line.product,
                    recipient_email=email,
                    recipient_phone=phone,
                    metadata={"order": order.public_id, "line": line.pk, "unit": unit},
                    reference=order.public_id,
                    idempotency_key=order_unit_key(order=order.public_id, line=line.pk, unit=unit),
                )
                if (
                    unit_card.replayed
                    and FulfilledCard.objects.filter(
                        order=order, line=line, unit_index=unit
                    ).exists()
                ):
                    continue
                card = unit_card.card
                fulfilled = FulfilledCard.objects.create(
                    merchant_id=order.merchant_id,
                    order=order,
                    line=line,
                    unit_index=unit,
                    gift_card=card,
                    created_at=now,
                )
                deliveries.append(_delivery_for(order, line, fulfilled, now))
                issued += 1
        CardDelivery.objects.bulk_create(deliveries)
        move_order(order, status=OrderStatus.FULFILLED, now=now, fulfilled_at=now, failed_reason="")
        order_fulfilled(order)
        # Robust: a receipt that cannot be sent never holds back the cards' delivery.
        transaction.on_commit(lambda: _send_receipt(order.pk), robust=True)
        logger.info("order_cards_issued", order=order.public_id, cards=issued)
        due = [d.pk for d in CardDelivery.objects.filter(order=order, deliver_at__lte=now)]
        if due:
            transaction.on_commit(lambda: _send_now(due))
    return order


def _send_now(delivery_ids: list[int]) -> None:
    from orders.tasks import send_delivery

    for delivery_id in delivery_ids:
        send_delivery.delay(delivery_id)


def _send_receipt(order_id: int) -> None:
    """Email the buyer the receipt of a fulfilled order: each line, for whom and when it is
    delivered, the total and the link to the order page. It never holds a card code: the
    codes go only to whoever each card is for. Times are in the buyer's time zone."""
    order = Order.objects.select_related("merchant", "buyer").get(pk=order_id)
    lines = list(order.lines.select_related("product").order_by("pk"))

    def local(when: datetime, zone: str) -> str:
        tz = zoneinfo.ZoneInfo(zone or "UTC")
        return f"{when.astimezone(tz):%d %b %Y, %H:%M} ({tz.key})"

    order_url = (
        site_url()
        + reverse("orders:status", kwargs={"public_id": order.public_id})
        + f"?t={order_access_token(order)}"
    )
    zone = next((line.buyer_timezone for line in lines if line.buyer_timezone), "")
    context = {
        "buyer_name": order.buyer_name or "there",
        "merchant_name": order.merchant.name,
        "order_id": order.public_id,
        "ordered_on": local(order.paid_at or order.created_at, zone),
        "lines": [
            {
                "product": line.product.name,
                "amount": format_money(line.amount, order.currency),
                "quantity": line.quantity,
                "subtotal": format_money(line.subtotal, order.currency),
                "recipient": (
                    (line.recipient_name or line.recipient_email or line.recipient_phone)
                    if line.is_gift
                    else "you"
                ),
                "delivery": (
                    local(line.deliver_at, line.buyer_timezone) if line.deliver_at else "At once"
                ),
            }
            for line in lines
        ],
        "total": format_money(order.total, order.currency),
        "payment_method": (
            "Test mode" if order.is_test else f"Card ({order.get_provider_display()})"
        ),
        "order_url": order_url,
    }
    logs = send(
        Event.ORDER_RECEIPT,
        Recipient(email=order.buyer_email, user=order.buyer),
        context,
        channels=[Channel.EMAIL],
        merchant=order.merchant,
    )
    logger.info("order_receipt", order=order.public_id, status=[log.status for log in logs])
