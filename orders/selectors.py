"""Reads of orders that carry rules: what a buyer's status page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum

from communications.masking import mask
from core.money import format_money
from giftcards.models import GiftCard
from merchants.models import Merchant
from orders.models import (
    CardDelivery,
    FulfilledCard,
    Order,
    OrderLine,
    OrderStatus,
    PaymentEvent,
)

PAID_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED)


def order_list(
    *,
    merchant: Merchant,
    status: str | None = None,
    provider: str | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    search: str = "",
) -> QuerySet[Order]:
    """The merchant's orders, newest first, narrowed by each filter given.

    ``search`` matches an order id, the buyer's email or a recipient's email (a part of
    any of them, case-insensitive)."""
    orders = Order.objects.filter(merchant=merchant)
    if status:
        orders = orders.filter(status=status)
    if provider:
        orders = orders.filter(provider=provider)
    if created_from is not None:
        orders = orders.filter(created_at__gte=created_from)
    if created_before is not None:
        orders = orders.filter(created_at__lt=created_before)
    term = search.strip()
    if term:
        recipient = OrderLine.objects.filter(
            merchant=merchant, order=OuterRef("pk"), recipient_email__icontains=term
        )
        orders = orders.filter(
            Q(public_id__icontains=term) | Q(buyer_email__icontains=term) | Exists(recipient)
        )
    return orders.order_by("-created_at", "-pk")


@dataclass(frozen=True)
class CurrencyFigure:
    currency: str
    count: int
    amount: int

    @property
    def amount_label(self) -> str:
        return format_money(self.amount, self.currency)


def order_totals(orders: QuerySet[Order]) -> list[CurrencyFigure]:
    """Count and total of ``orders`` per currency, added up by the database."""
    rows = (
        orders.order_by()
        .values("currency")
        .annotate(count=Count("pk"), amount=Sum("total"))
        .order_by("currency")
    )
    return [
        CurrencyFigure(currency=row["currency"], count=row["count"], amount=row["amount"] or 0)
        for row in rows
    ]


def order_sales(orders: QuerySet[Order]) -> list[CurrencyFigure]:
    """Paid orders among ``orders`` (paid or fulfilled: money taken and kept) and their
    revenue per currency, added up by the database."""
    return order_totals(orders.filter(status__in=PAID_STATUSES))


def order_for_dashboard(*, merchant: Merchant, public_id: str) -> Order | None:
    """One of the merchant's orders with everything its dashboard page shows, in a
    fixed number of queries; None for an order of another merchant."""
    cards = (
        FulfilledCard.objects.filter(merchant=merchant)
        .select_related("gift_card", "delivery", "delivery__email_log", "delivery__sms_log")
        .order_by("unit_index")
    )
    lines = (
        OrderLine.objects.filter(merchant=merchant)
        .select_related("product")
        .prefetch_related(Prefetch("cards", queryset=cards))
        .order_by("pk")
    )
    events = PaymentEvent.objects.filter(merchant=merchant).order_by("received_at", "pk")
    return (
        Order.objects.select_related("merchant")
        .prefetch_related(
            Prefetch("lines", queryset=lines), Prefetch("payment_events", queryset=events)
        )
        .filter(merchant=merchant, public_id=public_id)
        .first()
    )


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
    # The delivery the buyer may ask to send again (None: nothing to resend).
    resend_delivery_id: int | None = None


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
        if delivery.is_late():
            return (
                f"Late: it was due {when:%d %b %Y, %H:%M} ({zone}) and has not gone out yet; "
                "it is sent as soon as it can be."
            )
        return f"Scheduled for {when:%d %b %Y, %H:%M} ({zone})"
    if delivery.status == "sent":
        logs = [log for log in (delivery.email_log, delivery.sms_log) if log is not None]
        parts = [f"{log.get_channel_display()}: {log.get_status_display().lower()}" for log in logs]
        return "Sent (" + ", ".join(parts) + ")" if parts else "Sent"
    if delivery.status == "failed":
        return "Could not be delivered"
    return "Cancelled"


def delivery_resendable(delivery: CardDelivery | None, *, order: Order, card: GiftCard) -> bool:
    """Whether a Resend button makes sense: the card went out (or failed to) and is still
    good. The service checks again, under its lock, and explains any refusal."""
    if delivery is None or delivery.status not in ("sent", "failed"):
        return False
    return order.status != OrderStatus.REFUNDED and not card.has_ended()


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
                    resend_delivery_id=(
                        delivery.pk
                        if delivery is not None
                        and delivery_resendable(delivery, order=order, card=card)
                        else None
                    ),
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
