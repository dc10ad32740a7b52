"""Every change of an order: creation, payment, fulfilment into gift cards, failure,
cancellation, refund, and the delivery of its cards (SF-2..SF-5).

The state machine::

    pending -> paid -> fulfilled -> refunded
    pending -> failed | cancelled          paid -> refunded

Each move locks the order row, checks the move is legal before writing anything (an
illegal move raises ``IllegalOrderTransition`` and changes nothing) and logs it. Asking
for the state the order is already in (a provider repeating itself) is a no-op that
returns the order unchanged.

Cards are issued only from ``paid``, under the order's lock, each unit of each line with
the ledger idempotency key ``order:<public_id>:<line_id>:<unit>``: the ledger's unique
index makes an issue exactly-once even if two fulfilments ever raced past the lock.
Money is integer minor units in the order's currency. No card code is ever logged.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import stripe
import structlog
from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from communications.models import Channel, CommunicationLog, Event, MessageStatus
from communications.services import Recipient, send
from core.contact import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from core.errors import ApplicationError
from core.money import MAX_AMOUNT, format_money
from core.signing import TokenSigner
from core.site import site_url
from giftcards import codes
from giftcards.exceptions import CardsAlreadyUsed
from giftcards.idempotency import order_refund_key, order_unit_key
from giftcards.models import CardStatus, GiftCard, Product
from giftcards.product_rules import product_amount_refusal
from giftcards.services import giftcard_hold, giftcard_issue, giftcards_take_back
from merchants.models import Merchant
from orders.card_links import card_link_token, card_links_reinstate, card_links_revoke
from orders.exceptions import (
    AmountNotAllowed,
    AmountNotChargeable,
    CurrencyMismatch,
    IllegalOrderTransition,
    InvalidDeliveryDate,
    InvalidOrder,
    MerchantUnavailable,
    PaymentMismatch,
    ProductUnavailable,
    RecipientRequired,
    RefundRefused,
    ResendRateLimited,
    ResendRefused,
)
from orders.locks import due_deliveries_to_claim, lock_delivery, lock_order
from orders.models import (
    MAX_MESSAGE_LENGTH,
    MAX_QUANTITY,
    CardDelivery,
    DeliveryStatus,
    FulfilledCard,
    Order,
    OrderLine,
    OrderStatus,
    PaymentProvider,
)
from orders.payments import configured_provider, units
from orders.payments.refunds import refund_at_provider

logger = structlog.get_logger(__name__)

MAX_LINES = 20
MAX_SCHEDULE_AHEAD = timedelta(days=365)
# A date picked "now" in a form is a few seconds old when it arrives.
PAST_GRACE = timedelta(minutes=5)
ACCESS_TOKEN_MAX_AGE = timedelta(days=30)
_ACCESS_TOKENS = TokenSigner(salt="orders.status-access", max_age=ACCESS_TOKEN_MAX_AGE)


@dataclass(frozen=True)
class LineRequest:
    """One line of an order as the buyer asked for it."""

    product: Product
    amount: int
    quantity: int = 1
    is_gift: bool = False
    recipient_name: str = ""
    recipient_email: str = ""
    recipient_phone: str = ""
    message: str = ""
    deliver_at: datetime | None = None
    buyer_timezone: str = ""


# --- Access tokens ------------------------------------------------------------------


def order_access_token(order: Order) -> str:
    """The ``?t=`` of the buyer's status page link: signed, valid for 30 days."""
    return _ACCESS_TOKENS.sign_detached(order.public_id)


def order_access_token_valid(order: Order, token: str) -> bool:
    return _ACCESS_TOKENS.check_detached(order.public_id, token)


# --- Creation -----------------------------------------------------------------------


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_product(product: Product, *, merchant: Merchant, index: int) -> None:
    if product.merchant_id != merchant.pk or not product.is_active:
        raise ProductUnavailable(
            "This gift card is not on sale any more.", field="product", line=index
        )


def _check_amount(product: Product, amount: int, *, index: int) -> None:
    refusal = product_amount_refusal(product, amount)
    if refusal is not None:
        raise AmountNotAllowed(refusal, field="amount", line=index)


def _normalise_phone(raw: str, *, index: int) -> str:
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        raise InvalidOrder(
            "Enter the recipient's mobile number in international format, e.g. +447700900123.",
            field="recipient_phone",
            line=index,
        ) from None


def _normalise_email(raw: str, *, field: str, index: int | None, whose: str) -> str:
    try:
        return normalise_email(raw)
    except InvalidEmail:
        raise InvalidOrder(
            f"Enter a valid email address for {whose}.", field=field, line=index
        ) from None


def _check_deliver_at(deliver_at: datetime | None, *, now: datetime, index: int) -> None:
    if deliver_at is None:
        return
    if not isinstance(deliver_at, datetime) or timezone.is_naive(deliver_at):
        raise InvalidDeliveryDate(
            "The delivery date needs a time zone.", field="deliver_at", line=index
        )
    if deliver_at < now - PAST_GRACE:
        raise InvalidDeliveryDate(
            "The delivery date is in the past: choose a later one, or deliver at once.",
            field="deliver_at",
            line=index,
        )
    if deliver_at > now + MAX_SCHEDULE_AHEAD:
        raise InvalidDeliveryDate(
            "Cards can be scheduled up to one year ahead.", field="deliver_at", line=index
        )


def _check_chargeable(product: Product, amount: int, *, provider: str, index: int) -> None:
    refusal = units.charge_refusal(amount, product.currency, provider=provider)
    if refusal is not None:
        raise AmountNotChargeable(refusal, field="amount", line=index)


def _build_line(
    merchant: Merchant, request: LineRequest, *, index: int, now: datetime, provider: str
) -> OrderLine:
    product = request.product
    _check_product(product, merchant=merchant, index=index)
    _check_amount(product, request.amount, index=index)
    _check_chargeable(product, request.amount, provider=provider, index=index)
    if not _is_whole(request.quantity) or not 1 <= request.quantity <= MAX_QUANTITY:
        raise InvalidOrder(
            f"Choose between 1 and {MAX_QUANTITY} cards.", field="quantity", line=index
        )
    message = (request.message or "").strip()
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidOrder(
            f"The message can be at most {MAX_MESSAGE_LENGTH} characters.",
            field="message",
            line=index,
        )
    recipient_name = (request.recipient_name or "").strip()
    if len(recipient_name) > 120:
        raise InvalidOrder(
            "The recipient's name can be at most 120 characters.",
            field="recipient_name",
            line=index,
        )
    email = phone = ""
    if request.is_gift:
        if (
            not (request.recipient_email or "").strip()
            and not (request.recipient_phone or "").strip()
        ):
            raise RecipientRequired(
                "Tell us where to send the gift: the recipient's email address or mobile number.",
                field="recipient_email",
                line=index,
            )
        if (request.recipient_email or "").strip():
            email = _normalise_email(
                request.recipient_email, field="recipient_email", index=index, whose="the recipient"
            )
        if (request.recipient_phone or "").strip():
            phone = _normalise_phone(request.recipient_phone, index=index)
    _check_deliver_at(request.deliver_at, now=now, index=index)
    tz_name = (request.buyer_timezone or "").strip()
    if tz_name and tz_name not in _timezones():
        raise InvalidOrder("Unknown time zone.", field="buyer_timezone", line=index)
    return OrderLine(
        merchant=merchant,
        product=product,
        amount=request.amount,
        quantity=request.quantity,
        is_gift=request.is_gift,
        recipient_name=recipient_name if request.is_gift else "",
        recipient_email=email,
        recipient_phone=phone,
        message=message,
        deliver_at=request.deliver_at,
        buyer_timezone=tz_name,
    )


def order_create(
    *,
    merchant: Merchant,
    buyer: User | None,
    buyer_email: str,
    buyer_name: str,
    lines: list[LineRequest],
) -> Order:
    """A pending order for ``lines``, priced in the products' currency.

    Every rule is checked before anything is written: a refusal raises an
    ``OrderError`` naming the ``field`` (and ``line``) at fault and creates nothing.
    That includes an amount the configured payment provider cannot charge exactly
    (``AmountNotChargeable``, e.g. 5.125 KWD where Stripe takes steps of 0.010)."""
    if not merchant.is_active:
        raise MerchantUnavailable("This shop is not selling gift cards at the moment.")
    email = _normalise_email(buyer_email or "", field="buyer_email", index=None, whose="yourself")
    name = (buyer_name or "").strip()
    if len(name) > 120:
        raise InvalidOrder("Your name can be at most 120 characters.", field="buyer_name")
    if not lines:
        raise InvalidOrder("Add at least one gift card to the order.", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidOrder(f"An order can hold at most {MAX_LINES} lines.", field="lines")
    now = timezone.now()
    provider = configured_provider()
    built = [
        _build_line(merchant, line, index=i, now=now, provider=provider)
        for i, line in enumerate(lines)
    ]
    currency = lines[0].product.currency
    for index, line in enumerate(lines):
        if line.product.currency != currency:
            raise CurrencyMismatch(
                f"One order is paid in one currency: this card is sold in "
                f"{line.product.currency}, the order in {currency}.",
                field="product",
                line=index,
            )
    total = sum(line.amount * line.quantity for line in built)
    if total > MAX_AMOUNT:
        raise AmountNotAllowed("The order total is larger than we can take.", field="amount")
    with transaction.atomic():
        order = Order.objects.create(
            merchant=merchant,
            buyer=buyer,
            buyer_email=email,
            buyer_name=name,
            currency=currency,
            total=total,
            provider=provider,
            created_at=now,
            updated_at=now,
        )
        for built_line in built:
            built_line.order = order
        OrderLine.objects.bulk_create(built)
    logger.info(
        "order_created",
        order=order.public_id,
        merchant=merchant.slug,
        total=total,
        currency=currency,
        lines=len(built),
        provider=order.provider,
    )
    return order


# --- The state machine ------------------------------------------------------------


def _refuse(order: Order, action: str) -> IllegalOrderTransition:
    logger.warning(
        "order_transition_refused", order=order.public_id, status=order.status, action=action
    )
    label = order.get_status_display().lower()
    return IllegalOrderTransition(
        f"This order cannot be {action}: it is {label}.",
        extra={"status": order.status},
    )


def _move(order: Order, status: str, now: datetime, **fields: Any) -> None:
    previous = order.status
    order.status = status
    order.updated_at = now
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", "updated_at", *fields])
    logger.info(
        "order_status_changed",
        order=order.public_id,
        merchant_id=order.merchant_id,
        previous=previous,
        status=status,
    )


def order_checkout_started(*, order_id: int, provider: str, provider_reference: str = "") -> Order:
    """Record which provider (and which checkout of it) the pending order is paid through."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status != OrderStatus.PENDING:
            raise _refuse(order, "paid")
        order.provider = provider
        order.provider_reference = provider_reference
        order.updated_at = timezone.now()
        order.save(update_fields=["provider", "provider_reference", "updated_at"])
    logger.info("order_checkout_started", order=order.public_id, provider=provider)
    return order


def _check_payment(order: Order, *, amount: int, currency: str) -> None:
    """Refuse a confirmed payment unless it is the order's total, in the order's
    currency, counted in the units of the provider that took it."""
    reported = (currency or "").upper()
    try:
        expected: int | None = units.to_provider(
            order.total, order.currency, provider=order.provider
        )
    except ApplicationError:
        expected = None  # an order the provider cannot charge: no payment can match it
    if _is_whole(amount) and amount == expected and reported == order.currency:
        return
    logger.error(
        "order_payment_mismatch",
        order=order.public_id,
        provider=order.provider,
        expected=expected,
        expected_currency=order.currency,
        amount=amount,
        currency=reported,
    )
    try:
        paid = format_money(
            units.from_provider(amount, reported, provider=order.provider), reported
        )
    except ApplicationError:
        paid = f"{amount} {reported or '(no currency)'} in the provider's units"
    raise PaymentMismatch(
        f"The payment ({paid}) does not match the order total "
        f"({format_money(order.total, order.currency)})."
    )


def order_mark_paid(
    *,
    order_id: int,
    provider_reference: str,
    amount: int,
    currency: str,
    provider_payment_id: str = "",
) -> Order:
    """The provider confirmed payment of ``amount`` ``currency``: pending -> paid, then
    fulfil. A repeated confirmation of a paid or fulfilled order changes nothing (but
    finishes a fulfilment that did not complete).

    ``amount`` is in the units of the order's provider (Stripe's ``amount_total``), and
    is compared with the order's total converted to those units: a payment that does
    not match leaves the order pending, is logged as an error and raises
    ``PaymentMismatch``."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status in (OrderStatus.PAID, OrderStatus.FULFILLED):
            if (
                provider_reference
                and order.provider_reference
                and provider_reference != order.provider_reference
            ):
                # A second checkout of the same order was paid too: money to give back.
                logger.error(
                    "order_paid_twice",
                    order=order.public_id,
                    provider=order.provider,
                    provider_reference=provider_reference,
                )
            else:
                logger.info("order_already_paid", order=order.public_id, status=order.status)
        else:
            if order.status != OrderStatus.PENDING:
                raise _refuse(order, "marked as paid")
            _check_payment(order, amount=amount, currency=currency)
            fields: dict[str, Any] = {"paid_at": timezone.now()}
            if provider_reference and not order.provider_reference:
                fields["provider_reference"] = provider_reference
            if provider_payment_id:
                fields["provider_payment_id"] = provider_payment_id
            _move(order, OrderStatus.PAID, fields["paid_at"], **fields)
    if order.status != OrderStatus.PAID:
        return order
    try:
        return order_fulfil(order_id=order.pk)
    except ApplicationError as exc:
        # Paid stays paid: the money is taken and fulfilment can be run again.
        Order.objects.filter(pk=order.pk, status=OrderStatus.PAID).update(
            failed_reason=f"Fulfilment failed: {exc.detail}"[:300]
        )
        logger.error(
            "order_fulfilment_failed", order=order.public_id, refusal=exc.code, detail=exc.detail
        )
        order.refresh_from_db()
        return order


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
            raise _refuse(order, "fulfilled")
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
        _move(order, OrderStatus.FULFILLED, now, fulfilled_at=now, failed_reason="")
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


def order_mark_failed(*, order_id: int, reason: str = "") -> Order:
    """Payment failed, was declined or the checkout expired: pending -> failed."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status == OrderStatus.FAILED:
            return order
        if order.status != OrderStatus.PENDING:
            raise _refuse(order, "marked as failed")
        now = timezone.now()
        _move(order, OrderStatus.FAILED, now, failed_at=now, failed_reason=reason[:300])
    return order


def order_cancel(*, order_id: int, reason: str = "") -> Order:
    """The buyer or the shop gives up an unpaid order: pending -> cancelled."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.status == OrderStatus.CANCELLED:
            return order
        if order.status != OrderStatus.PENDING:
            raise _refuse(order, "cancelled")
        now = timezone.now()
        _move(order, OrderStatus.CANCELLED, now, cancelled_at=now, failed_reason=reason[:300])
    return order


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
            raise _refuse(order, "refunded")
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
        _move(order, OrderStatus.REFUNDED, now, refunded_at=now)
        logger.info("order_refunded", order=order.public_id, cards_voided=len(card_ids))
    return order


# --- Delivery -----------------------------------------------------------------------


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
        if card.status not in (CardStatus.ACTIVE, CardStatus.REDEEMED, CardStatus.PENDING):
            delivery.status = DeliveryStatus.CANCELLED
            delivery.failure_reason = f"The card is {card.get_status_display().lower()}."
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
    if card.status in (CardStatus.VOID, CardStatus.EXPIRED) or card.is_expired():
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


# --- Abandoned checkouts ------------------------------------------------------------

ABANDONED_REASON = "The checkout was abandoned: the order was not paid in time."
_EXPIRY_BATCH = 500


def orders_expire_abandoned(
    *, older_than: timedelta = timedelta(hours=24), now: datetime | None = None
) -> int:
    """Cancel every pending order created more than ``older_than`` before ``now``; the
    number cancelled.

    Each order is cancelled on its own, under its lock, through ``order_cancel``. An
    order locked by someone else (a checkout being opened, a payment arriving) is
    skipped, never waited for: the next run looks again. A Stripe order's Checkout
    Session is expired at Stripe first, so the buyer can no longer pay it; an order
    whose session Stripe reports complete (or that Stripe cannot answer for) stays
    pending, as its payment confirmation may still be on its way. Running it again
    changes nothing."""
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
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=order_id, status=OrderStatus.PENDING, created_at__lt=cutoff)
            .first()
        )
        if order is None:  # paid or cancelled meanwhile, or held by a checkout right now
            return False
        if not _checkout_closed_at_provider(order):
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
