"""Delivery of fulfilled cards (SF-5): at once after payment, or at the chosen time by the
minute job, exactly once, through the one send path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from communications.models import CommunicationLog
from giftcards import codes
from giftcards.models import GiftCard, Product
from orders.models import CardDelivery, DeliveryStatus, Order
from orders.services import LineRequest, order_refund
from orders.tasks import send_due_deliveries
from orders.tests.factories import order_pay as paid

pytestmark = pytest.mark.django_db


def code_of(card: GiftCard) -> str:
    return codes.format_code(codes.decrypt(card.code_encrypted))


def card_emails() -> list[Any]:
    """The outbox without the buyer's order receipt."""
    return [m for m in mail.outbox if not m.subject.startswith("Your receipt from")]


def test_a_card_for_the_buyer_is_emailed_once_payment_commits(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = paid(make_order(LineRequest(product, 2500)))

    card = GiftCard.objects.get()
    delivery = CardDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.channels == ["email"]
    assert delivery.email_log is not None
    assert delivery.sms_log is None
    [message] = card_emails()
    assert message.to == [order.buyer_email]
    assert code_of(card) in message.body
    assert "€25.00" in message.subject


def test_a_gift_goes_to_the_recipient_by_email_and_sms(
    make_order: Callable[..., Order],
    product: Product,
    sms_outbox: list[Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        paid(
            make_order(
                LineRequest(
                    product,
                    5000,
                    is_gift=True,
                    recipient_name="Ana",
                    recipient_email="ana@example.com",
                    recipient_phone="+447700900123",
                    message="Happy birthday!",
                )
            )
        )

    card = GiftCard.objects.get()
    [message] = card_emails()
    assert message.to == ["ana@example.com"]
    assert "Hello Ana" in message.body
    assert "Happy birthday!" in message.body
    assert "Ben Buyer sent you a €50.00 gift card" in message.subject
    assert code_of(card) in message.body
    [sms] = sms_outbox
    assert "/gift/t/" in sms.text
    # The SMS carries the card link, not the code.
    assert code_of(card) not in sms.text
    delivery = CardDelivery.objects.get()
    assert delivery.channels == ["email", "sms"]
    assert delivery.sms_log is not None
    assert delivery.email_log is not None


def test_a_delivery_for_tomorrow_is_not_sent_today_and_goes_out_tomorrow_once(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    tomorrow = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        paid(
            make_order(
                LineRequest(
                    product,
                    2500,
                    is_gift=True,
                    recipient_email="ana@example.com",
                    deliver_at=tomorrow,
                )
            )
        )

    assert send_due_deliveries() == 0
    assert card_emails() == []
    assert CardDelivery.objects.get().status == DeliveryStatus.SCHEDULED

    with time_machine.travel(tomorrow + timedelta(seconds=30)):
        assert send_due_deliveries() == 1
        assert send_due_deliveries() == 0

    assert len(card_emails()) == 1
    assert card_emails()[0].to == ["ana@example.com"]
    assert CardDelivery.objects.get().status == DeliveryStatus.SENT
    assert CommunicationLog.objects.filter(event="gift_card_delivered").count() == 1


def test_refunding_cancels_a_scheduled_delivery(
    make_order: Callable[..., Order], product: Product
) -> None:
    later = timezone.now() + timedelta(days=2)
    order = paid(
        make_order(
            LineRequest(
                product, 2500, is_gift=True, recipient_phone="+447700900123", deliver_at=later
            )
        )
    )

    order_refund(order_id=order.pk)

    with time_machine.travel(later + timedelta(minutes=1)):
        assert send_due_deliveries() == 0
    assert CardDelivery.objects.get().status == DeliveryStatus.CANCELLED


def test_a_switched_off_channel_leaves_the_delivery_failed_with_the_reason(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    from communications.models import CommunicationSettings

    conf = CommunicationSettings.objects.first() or CommunicationSettings.objects.create()
    conf.email_enabled = False
    conf.save()
    with django_capture_on_commit_callbacks(execute=True):
        paid(make_order(LineRequest(product, 2500)))

    delivery = CardDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "switched off" in delivery.failure_reason


def test_the_card_link_shows_the_code_and_a_qr_to_its_holder_only(
    client: Client,
    make_order: Callable[..., Order],
    product: Product,
    sms_outbox: list[Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        paid(make_order(LineRequest(product, 2500, is_gift=True, recipient_phone="+447700900123")))
    card = GiftCard.objects.get()
    link = sms_outbox[0].text.split("127.0.0.1:8000", 1)[1].strip()

    response = client.get(link)

    assert response.status_code == 200
    html = response.content.decode()
    assert code_of(card) in html
    assert 'src="data:image/svg+xml;base64,' in html
    assert client.get(f"/gift/t/{card.public_id}:forged/").status_code == 404
    with time_machine.travel(timezone.now() + timedelta(days=401)):
        assert client.get(link).status_code == 404  # the link has expired
