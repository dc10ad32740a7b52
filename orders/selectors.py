"""Reads of orders that carry rules: what a buyer's status page shows."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet

from communications.masking import mask
from core.money import format_money
from merchants.models import Merchant
from orders.models import CardDelivery, FulfilledCard, Order, OrderLine


def order_list(*, merchant: Merchant) -> QuerySet[Order]:
    return Order.objects.filter(merchant=merchant).order_by("-created_at")


def order_for_status_page(*, public_id: str) -> Order | None:
    """The order with everything its page shows, in a fixed number of queries."""
    cards = FulfilledCard.objects.select_related(
        "gift_card", "delivery", "delivery__email_log", "delivery__sms_log"
    ).order_by("unit_index")
    lines = (
        OrderLine.objects.select_related("product")
        .prefetch_related(Prefetch("cards", queryset=cards))
        .order_by("pk")
    )
    return (
        Order.objects.select_related("merchant")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .filter(public_id=public_id)
        .first()
    )


@dataclass(frozen=True)
class CardRow:
    last4: str
    amount: str
    status: str
    delivery: str


@dataclass(frozen=True)
class LineRow:
    product: str
    amount: str
    quantity: int
    subtotal: str
    is_gift: bool
    recipient_name: str
    recipient_email: str
    recipient_phone: str
    message: str
    deliver_at: str
    cards: list[CardRow]


def _delivery_label(delivery: CardDelivery | None, tz: ZoneInfo | None) -> str:
    if delivery is None:
        return "Not scheduled"
    if delivery.status == "scheduled":
        when = delivery.deliver_at.astimezone(tz) if tz else delivery.deliver_at
        zone = tz.key if tz else "UTC"
        return f"Scheduled for {when:%d %b %Y, %H:%M} ({zone})"
    if delivery.status == "sent":
        logs = [log for log in (delivery.email_log, delivery.sms_log) if log is not None]
        parts = [f"{log.get_channel_display()}: {log.get_status_display().lower()}" for log in logs]
        return "Sent (" + ", ".join(parts) + ")" if parts else "Sent"
    if delivery.status == "failed":
        return "Could not be delivered"
    return "Cancelled"


def status_page_lines(order: Order) -> list[LineRow]:
    rows = []
    for line in order.lines.all():
        tz = ZoneInfo(line.buyer_timezone) if line.buyer_timezone else None
        deliver_at = ""
        if line.deliver_at:
            local = line.deliver_at.astimezone(tz) if tz else line.deliver_at
            deliver_at = f"{local:%d %b %Y, %H:%M} ({tz.key if tz else 'UTC'})"
        cards = []
        for fulfilled in line.cards.all():
            card = fulfilled.gift_card
            delivery = getattr(fulfilled, "delivery", None)
            cards.append(
                CardRow(
                    last4=card.last4,
                    amount=format_money(card.initial_amount, card.currency),
                    status=card.get_status_display(),
                    delivery=_delivery_label(delivery, tz),
                )
            )
        rows.append(
            LineRow(
                product=line.product.name,
                amount=format_money(line.amount, order.currency),
                quantity=line.quantity,
                subtotal=format_money(line.subtotal, order.currency),
                is_gift=line.is_gift,
                recipient_name=line.recipient_name,
                recipient_email=mask("email", line.recipient_email) if line.recipient_email else "",
                recipient_phone=mask("sms", line.recipient_phone) if line.recipient_phone else "",
                message=line.message,
                deliver_at=deliver_at,
                cards=cards,
            )
        )
    return rows
