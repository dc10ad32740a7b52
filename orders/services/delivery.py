"""Delivering the cards of an order (SF-5): sending each due ``CardDelivery`` once, and
resending a delivered card with a fresh link.

A delivery is claimed under a lock that skips rows another worker holds and leaves
``scheduled`` in the same transaction that queues its messages, so it is sent at most
once. A resend is refused (changing nothing) for a void, expired or refunded card, for a
delivery not sent yet and beyond ``RESEND_LIMIT`` an hour; it locks the order, then the
card, as a refund and a wallet claim do. Messages go only through
``communications.services.send``, which hands them to a worker after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from django.core.cache import cache as shared_cache
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from communications.models import Channel, CommunicationLog, Event, MessageStatus
from communications.services import Recipient, send
from core.money import format_money
from core.site import site_url
from giftcards import codes
from giftcards.models import GiftCard
from giftcards.services import giftcard_hold
from merchants.models import Merchant
from orders.card_links import card_link_token, card_links_reinstate, card_links_revoke
from orders.exceptions import ResendRateLimited, ResendRefused
from orders.locks import due_deliveries_to_claim, lock_delivery, lock_order
from orders.models import CardDelivery, DeliveryStatus, Order, OrderStatus

logger = structlog.get_logger(__name__)


def _delivery_context(delivery: CardDelivery) -> dict[str, Any]:
    fulfilled = delivery.card
    card = fulfilled.gift_card
    line = fulfilled.line
    order = delivery.order
    card_url = site_url() + reverse("orders:card", kwargs={"token": card_link_token(card)})
    sender = order.buyer_name or order.buyer_email
    return {
        "recipient_name": (line.recipient_name if line.is_gift else order.buyer_name) or "there",
        "sender_name": sender if line.is_gift else order.merchant.name,
        "merchant_name": order.merchant.name,
        "amount": format_money(card.initial_amount, card.currency),
        "code": codes.format_code(codes.decrypt(card.code_encrypted)),
        "message": line.message,
        "card_url": card_url,
        "expires_on": f"{card.expires_at.day} {card.expires_at:%b %Y}"
        if card.expires_at
        else "never",
    }


_NOT_SENT = frozenset({MessageStatus.FAILED, MessageStatus.SUPPRESSED, MessageStatus.RATE_LIMITED})


def _send_card(delivery: CardDelivery, *, merchant: Merchant) -> list[CommunicationLog]:
    """The card's message on the delivery's channels, each log row kept on the delivery.

    Mail clients block data: URIs and remote images: the email carries the card's QR
    code as an inline part, shown by <img src="cid:card-qr"> (a resend too)."""
    from orders.card_images import qr_png

    context = _delivery_context(delivery)
    logs: list[CommunicationLog] = send(
        Event.GIFT_CARD_DELIVERED,
        Recipient(email=delivery.recipient_email, phone=delivery.recipient_phone),
        context,
        channels=list(delivery.channels),
        merchant=merchant,
        inline_images={"card-qr": qr_png(context["code"])},
    )
    for log in logs:
        if log.requested_channel == Channel.EMAIL:
            delivery.email_log = log
        elif log.requested_channel == Channel.SMS:
            delivery.sms_log = log
    return logs


def delivery_send(*, delivery_id: int) -> CardDelivery | None:
    """Send one due delivery, at most once: the row is claimed with a lock that skips
    rows another worker holds, and moved out of ``scheduled`` in the same transaction
    that queues the messages. Returns None when there was nothing to do."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            due_deliveries_to_claim(delivery_id=delivery_id)
            .filter(deliver_at__lte=now)
            .select_related("order__merchant", "card__gift_card", "card__line")
            .first()
        )
        if delivery is None:
            return None
        card = delivery.card.gift_card
        delivery.attempted_at = now
        if card.has_ended(now):
            state = "expired" if card.is_expired(now) else card.get_status_display().lower()
            delivery.status = DeliveryStatus.CANCELLED
            delivery.failure_reason = f"The card is {state}."
            delivery.save(update_fields=["status", "attempted_at", "failure_reason"])
            return delivery
        logs = _send_card(delivery, merchant=delivery.order.merchant)
        if logs and all(log.status in _NOT_SENT for log in logs):
            delivery.status = DeliveryStatus.FAILED
            delivery.failure_reason = "; ".join(log.reason for log in logs if log.reason)[:300]
        else:
            delivery.status = DeliveryStatus.SENT
        delivery.save(
            update_fields=["status", "attempted_at", "email_log", "sms_log", "failure_reason"]
        )
    logger.info(
        "card_delivery_sent",
        delivery_id=delivery.pk,
        order=delivery.order.public_id,
        status=delivery.status,
        channels=list(delivery.channels),
    )
    return delivery


def due_delivery_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        CardDelivery.objects.filter(Q(status=DeliveryStatus.SCHEDULED), deliver_at__lte=now)
        .order_by("deliver_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- Resending a delivered card -----------------------------------------------------

RESEND_LIMIT = 3
RESEND_WINDOW = timedelta(hours=1)
_RESENDABLE = frozenset({DeliveryStatus.SENT, DeliveryStatus.FAILED})


def _resend_key(card_id: int) -> str:
    return f"orders:resend:card:{card_id}"


def _recent_resends(card_id: int, now: datetime) -> list[float]:
    """Times (epoch seconds) of this card's resends within the last hour."""
    since = (now - RESEND_WINDOW).timestamp()
    stamps = shared_cache.get(_resend_key(card_id)) or []
    return [stamp for stamp in stamps if isinstance(stamp, (int, float)) and stamp > since]


def _check_resendable(order: Order, delivery: CardDelivery, card: GiftCard) -> None:
    if order.status == OrderStatus.REFUNDED:
        raise ResendRefused("This order was refunded: its cards are void and are not sent again.")
    if card.has_ended():
        state = "expired" if card.is_expired() else card.get_status_display().lower()
        raise ResendRefused(f"The card ending {card.last4} is {state}: it is not sent again.")
    if delivery.status == DeliveryStatus.SCHEDULED:
        raise ResendRefused(
            f"The card ending {card.last4} has not been sent yet: it goes out as scheduled."
        )
    if delivery.status not in _RESENDABLE:
        raise ResendRefused(f"The delivery of the card ending {card.last4} was cancelled.")


def delivery_resend(*, delivery_id: int, actor: User | None) -> CardDelivery:
    """Send a delivered card again to the same recipient, with a fresh card link, through
    the one send path. At most ``RESEND_LIMIT`` resends per card per hour.

    The fresh link revokes every link sent before (``orders.card_links``), so a forwarded
    or leaked older message no longer opens the card; when nothing went out (every
    channel off or refused), the older link stays the working one.

    Refused, with nothing changed (no message, no log row, no count, no link revoked),
    for a card that is void, expired or refunded, for a delivery that has not gone out
    yet, and beyond the limit. The order is locked first, as a refund does, so a refund
    and a resend of the same order never interleave (nor two resends: only the later
    one's link works), and the count is read and written under that lock. The card is
    locked next, as a claim into a wallet locks it, so a claim and a resend change its
    link version one after the other and neither change is lost."""
    now = timezone.now()
    with transaction.atomic():
        found = CardDelivery.objects.filter(pk=delivery_id).values_list("order_id", flat=True)
        order_id = found.first()
        if order_id is None:
            raise ResendRefused("No such delivery.")
        order = lock_order(order_id=order_id)
        delivery = lock_delivery(delivery_id=delivery_id)
        if delivery is None:  # pragma: no cover - deliveries are never deleted
            raise ResendRefused("No such delivery.")
        card = giftcard_hold(merchant=order.merchant, card_id=delivery.card.gift_card_id)
        delivery.card.gift_card = card  # the message is written from the locked row
        _check_resendable(order, delivery, card)
        recent = _recent_resends(card.pk, now)
        if len(recent) >= RESEND_LIMIT:
            logger.warning(
                "card_resend_rate_limited", delivery_id=delivery.pk, order=order.public_id
            )
            raise ResendRateLimited(
                f"The card ending {card.last4} was sent again {RESEND_LIMIT} times in the last "
                "hour. Please wait before sending it once more.",
                extra={
                    "retry_after": int(
                        min(recent) + RESEND_WINDOW.total_seconds() - now.timestamp()
                    )
                    + 1
                },
            )
        previous_links = card.link_version
        card_links_revoke(card=card)
        logs = _send_card(delivery, merchant=order.merchant)
        delivery.attempted_at = now
        if logs and all(log.status in _NOT_SENT for log in logs):
            card_links_reinstate(card=card, version=previous_links)
            delivery.status = DeliveryStatus.FAILED
            delivery.failure_reason = "; ".join(log.reason for log in logs if log.reason)[:300]
        else:
            delivery.status = DeliveryStatus.SENT
            delivery.failure_reason = ""
        delivery.save(
            update_fields=["status", "attempted_at", "email_log", "sms_log", "failure_reason"]
        )
        shared_cache.set(
            _resend_key(card.pk),
            [*recent, now.timestamp()],
            timeout=int(RESEND_WINDOW.total_seconds()),
        )
    logger.info(
        "card_delivery_resent",
        delivery_id=delivery.pk,
        order=order.public_id,
        status=delivery.status,
        channels=list(delivery.channels),
        actor_id=actor.pk if actor is not None else None,
    )
    return delivery
