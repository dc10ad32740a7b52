"""The buyer's order receipt (SF-4/SF-5): one email when the order is fulfilled, after the
transaction commits, through the one send path. It lists each line, for whom and when it
is delivered (in the buyer's time zone), the total and the link to the order page, and
never a card code."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client

from communications.models import CommunicationLog, MessageStatus
from communications.services import settings_update
from giftcards import codes
from giftcards.models import GiftCard, Product
from orders.models import CardDelivery, DeliveryStatus, Order, OrderStatus
from orders.services import LineRequest, order_fulfil
from orders.tests.factories import order_pay as paid

pytestmark = pytest.mark.django_db

SUBJECT = "Your receipt from Bluebird Coffee"
ORDER_LINK = re.compile(r"https?://[^\s\"'<>]+/orders/[^\s\"'<>]+")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def code_of(card: GiftCard) -> str:
    return codes.format_code(codes.decrypt(card.code_encrypted))


def receipts() -> list[Any]:
    return [m for m in mail.outbox if m.subject == SUBJECT]


def html_of(message: Any) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(html)


@pytest.fixture
def gift_line(product: Product) -> LineRequest:
    """A €50 card for Ana, delivered on Christmas Eve at 09:00 Paris time."""
    return LineRequest(
        product,
        5000,
        is_gift=True,
        recipient_name="Ana",
        recipient_email="ana@example.com",
        deliver_at=datetime(2026, 12, 24, 8, 0, tzinfo=UTC),
        buyer_timezone="Europe/Paris",
    )


def test_a_paid_order_sends_the_buyer_one_receipt_once_the_payment_commits(
    client: Client,
    make_order: Callable[..., Order],
    product: Product,
    gift_line: LineRequest,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with time_machine.travel(NOW):
        order = make_order(LineRequest(product, 2500, quantity=2), gift_line)

        with django_capture_on_commit_callbacks() as callbacks:
            paid(order)
        assert receipts() == []
        assert not CommunicationLog.objects.filter(event="order_receipt").exists()
        for callback in callbacks:
            callback()

        [receipt] = receipts()
        assert receipt.to == ["buyer@example.com"]
        body = receipt.body
        assert order.public_id in body
        assert "Date: 25 Nov 2026, 13:00 (Europe/Paris)" in body
        assert "2 x Coffee card at €25.00 each, for you: €50.00" in body
        assert "1 x Coffee card at €50.00 each, for Ana: €50.00" in body
        assert "Delivery: At once" in body
        assert "Delivery: 24 Dec 2026, 09:00 (Europe/Paris)" in body
        assert "Total: €100.00" in body
        assert "Payment: Test mode" in body
        html = html_of(receipt)
        assert "<td>Ana</td>" in html
        assert "<strong>€100.00</strong>" in html
        [log] = CommunicationLog.objects.filter(event="order_receipt")
        assert log.status == MessageStatus.SENT
        assert log.channel == "email"
        assert log.merchant_id == order.merchant_id

        [link] = ORDER_LINK.findall(body)
        assert f'href="{link}"' in html
        parts = urlsplit(link)
        response = client.get(f"{parts.path}?{parts.query}")
    assert parts.path == f"/orders/{order.public_id}/"
    assert response.status_code == 200
    assert order.public_id in response.content.decode()


def test_fulfilling_or_confirming_the_payment_again_sends_no_second_receipt(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = paid(make_order(LineRequest(product, 2500)))
    assert order.status == OrderStatus.FULFILLED
    outbox = len(mail.outbox)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = order_fulfil(order_id=order.pk)
        paid(order)

    assert again.status == OrderStatus.FULFILLED
    assert callbacks == []
    assert len(mail.outbox) == outbox
    assert len(receipts()) == 1
    assert CommunicationLog.objects.filter(event="order_receipt").count() == 1


def test_a_gift_orders_receipt_does_not_hold_the_card_code(
    make_order: Callable[..., Order],
    gift_line: LineRequest,
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    at_once = LineRequest(
        product, 2500, is_gift=True, recipient_name="Cleo", recipient_email="cleo@example.com"
    )
    with django_capture_on_commit_callbacks(execute=True):
        paid(make_order(at_once, gift_line))

    cards = list(GiftCard.objects.all())
    assert len(cards) == 2
    [receipt] = receipts()
    [cleo_email] = [m for m in mail.outbox if m.to == ["cleo@example.com"]]
    assert code_of(cards[0]) in cleo_email.body or code_of(cards[1]) in cleo_email.body
    shown = receipt.subject + receipt.body + html_of(receipt)
    assert "for Cleo" in receipt.body
    squeezed = re.sub(r"[\s-]", "", shown).upper()
    for card in cards:
        assert code_of(card) not in shown
        assert codes.decrypt(card.code_encrypted) not in squeezed
    [log] = CommunicationLog.objects.filter(event="order_receipt")
    assert log.payload == ""  # wiped once sent: nothing of the message stays behind


def test_with_email_switched_off_the_order_fulfils_and_the_receipt_is_suppressed(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings_update(actor=None, email_enabled=False, email_fallback="")

    with django_capture_on_commit_callbacks(execute=True):
        order = paid(make_order(LineRequest(product, 2500)))

    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    assert GiftCard.objects.count() == 1
    assert mail.outbox == []
    [log] = CommunicationLog.objects.filter(event="order_receipt")
    assert log.status == MessageStatus.SUPPRESSED
    assert "email is switched off" in log.reason
    assert log.merchant_id == order.merchant_id


def test_a_receipt_that_cannot_be_sent_does_not_hold_back_the_cards(
    make_order: Callable[..., Order],
    product: Product,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("mail system down")

    monkeypatch.setattr("orders.services.fulfilment._send_receipt", broken)

    with django_capture_on_commit_callbacks(execute=True):
        order = paid(make_order(LineRequest(product, 2500)))

    assert order.status == OrderStatus.FULFILLED
    assert CardDelivery.objects.get().status == DeliveryStatus.SENT
    assert receipts() == []
    assert len(mail.outbox) == 1


def test_a_card_payment_is_named_on_the_receipt(
    stripe_settings: Any,
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    order = make_order(LineRequest(product, 2500))
    assert order.provider == "stripe"

    with django_capture_on_commit_callbacks(execute=True):
        paid(order, provider_reference="cs_test_receipt")

    [receipt] = receipts()
    assert "Payment: Card (Stripe)" in receipt.body
    assert "Test mode" not in receipt.body
