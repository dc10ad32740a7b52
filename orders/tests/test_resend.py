"""Sending a delivered card again (SF-5): through the one send path, to the same
recipient with a fresh card link, from the dashboard and from the buyer's status page;
refused for void or refunded cards and beyond three resends per card per hour, with
nothing changed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from communications.models import CommunicationLog
from giftcards.models import GiftCard, Product, Transaction
from giftcards.services import giftcard_void
from orders.exceptions import ResendRateLimited, ResendRefused
from orders.models import CardDelivery, DeliveryStatus, Order
from orders.services import (
    LineRequest,
    delivery_resend,
    order_access_token,
    order_refund,
)
from orders.tests.factories import order_pay as paid

pytestmark = pytest.mark.django_db

CARD_LINK = re.compile(r"/gift/t/[^\s\"'<>]+/")


def state(delivery: CardDelivery) -> dict[str, Any]:
    """Everything a refused resend must leave as it was."""
    delivery.refresh_from_db()
    card = GiftCard.objects.get(pk=delivery.card.gift_card_id)
    order = Order.objects.get(pk=delivery.order_id)
    return {
        "delivery": (delivery.status, delivery.email_log_id, delivery.attempted_at),
        "card": (card.status, card.balance, card.link_version),
        "ledger": list(Transaction.objects.filter(gift_card=card).values_list("pk", flat=True)),
        "order": order.status,
        "logs": CommunicationLog.objects.count(),
        "outbox": len(mail.outbox),
    }


@pytest.fixture
def delivery(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> CardDelivery:
    with django_capture_on_commit_callbacks(execute=True):
        paid(
            make_order(
                LineRequest(
                    product,
                    2500,
                    is_gift=True,
                    recipient_name="Ana",
                    recipient_email="ana@example.com",
                )
            )
        )
    sent = CardDelivery.objects.get()
    assert sent.status == DeliveryStatus.SENT
    # The buyer's receipt went out too; these tests count the card's own emails.
    [receipt] = [m for m in mail.outbox if m.to == [sent.order.buyer_email]]
    mail.outbox.remove(receipt)
    assert len(mail.outbox) == 1
    return sent


def resend_url(delivery: CardDelivery) -> str:
    return (
        f"/m/{delivery.order.merchant.slug}/orders/{delivery.order.public_id}/"
        f"deliveries/{delivery.pk}/resend/"
    )


def status_resend_url(delivery: CardDelivery) -> str:
    return f"/orders/{delivery.order.public_id}/resend/{delivery.pk}/"


# --- The service --------------------------------------------------------------------------


def test_a_resend_sends_the_card_again_to_the_same_recipient_with_a_fresh_link(
    delivery: CardDelivery, owner: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    first_log = delivery.email_log_id
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=5)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        resent = delivery_resend(delivery_id=delivery.pk, actor=owner)

    assert resent.status == DeliveryStatus.SENT
    assert resent.email_log_id not in (None, first_log)
    assert CommunicationLog.objects.filter(event="gift_card_delivered").count() == 2
    first, second = mail.outbox
    assert second.to == first.to == ["ana@example.com"]
    first_link = CARD_LINK.search(first.body)
    second_link = CARD_LINK.search(second.body)
    assert first_link
    assert second_link
    assert first_link.group() != second_link.group()
    # The resent email shows the card's QR code like the first: the image travels with it.
    pictures = [part for part in second.message().walk() if part.get_content_type() == "image/png"]
    assert [part["Content-ID"] for part in pictures] == ["<card-qr>"]


def test_a_void_card_is_not_sent_again(delivery: CardDelivery) -> None:
    card = delivery.card.gift_card
    giftcard_void(merchant=card.merchant, card_id=card.pk, reason="lost")
    before = state(delivery)

    with pytest.raises(ResendRefused, match="is void"):
        delivery_resend(delivery_id=delivery.pk, actor=None)

    assert state(delivery) == before


def test_a_refunded_orders_card_is_not_sent_again(delivery: CardDelivery) -> None:
    order_refund(order_id=delivery.order_id)
    before = state(delivery)

    with pytest.raises(ResendRefused, match="refunded"):
        delivery_resend(delivery_id=delivery.pk, actor=None)

    assert state(delivery) == before


def test_a_scheduled_delivery_is_not_sent_early(
    make_order: Callable[..., Order], product: Product
) -> None:
    paid(
        make_order(
            LineRequest(
                product,
                2500,
                is_gift=True,
                recipient_email="later@example.com",
                deliver_at=timezone.now() + timedelta(days=2),
            )
        )
    )
    scheduled = CardDelivery.objects.get()
    before = state(scheduled)

    with pytest.raises(ResendRefused, match="not been sent yet"):
        delivery_resend(delivery_id=scheduled.pk, actor=None)

    assert state(scheduled) == before


def test_a_fourth_resend_within_the_hour_is_refused_until_the_hour_has_passed(
    delivery: CardDelivery, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(3):
                delivery_resend(delivery_id=delivery.pk, actor=None)
        before = state(delivery)
        with pytest.raises(ResendRateLimited, match="3 times in the last hour"):
            delivery_resend(delivery_id=delivery.pk, actor=None)
        assert state(delivery) == before
        assert len(mail.outbox) == 4

    with (
        time_machine.travel(start + timedelta(minutes=61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        delivery_resend(delivery_id=delivery.pk, actor=None)
    assert len(mail.outbox) == 5


# --- From the dashboard -------------------------------------------------------------------


def test_a_manager_resends_from_the_order_page(
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(resend_url(delivery), follow=True)

    assert response.status_code == 200
    assert f"The card ending {delivery.card.gift_card.last4} was sent again." in (
        response.content.decode()
    )
    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == ["ana@example.com"]
    assert CommunicationLog.objects.filter(event="gift_card_delivered").count() == 2


def test_the_dashboard_shows_the_rate_limit_refusal(
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            owner_client.post(resend_url(delivery))
    before = state(delivery)

    response = owner_client.post(resend_url(delivery), follow=True)

    assert "Please wait before sending it once more." in response.content.decode()
    assert state(delivery) == before


def test_a_resend_is_only_a_post(owner_client: Client, delivery: CardDelivery) -> None:
    assert owner_client.get(resend_url(delivery)).status_code == 405


# --- From the buyer's status page -----------------------------------------------------------


def test_the_buyer_resends_from_the_status_page_with_the_signed_link(
    client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    order = delivery.order
    token = order_access_token(order)
    page = client.get(f"/orders/{order.public_id}/?t={token}").content.decode()
    assert f'action="{status_resend_url(delivery)}"' in page
    assert f'name="t" value="{token}"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(status_resend_url(delivery), {"t": token}, follow=True)

    assert response.status_code == 200
    assert "was sent again to its recipient" in response.content.decode()
    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == ["ana@example.com"]


def test_the_buyer_cannot_resend_without_a_valid_link(
    client: Client, delivery: CardDelivery
) -> None:
    before = state(delivery)

    assert client.post(status_resend_url(delivery)).status_code == 404
    assert client.post(status_resend_url(delivery), {"t": "forged"}).status_code == 404
    assert client.get(status_resend_url(delivery)).status_code == 405
    assert state(delivery) == before


def test_a_delivery_of_another_order_is_not_found_with_this_orders_link(
    client: Client, delivery: CardDelivery, make_order: Callable[..., Order]
) -> None:
    other = make_order(buyer_email="other@example.com")
    before = state(delivery)

    response = client.post(
        f"/orders/{other.public_id}/resend/{delivery.pk}/", {"t": order_access_token(other)}
    )

    assert response.status_code == 404
    assert state(delivery) == before


def test_the_buyer_sees_the_rate_limit_refusal(
    client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    token = order_access_token(delivery.order)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            client.post(status_resend_url(delivery), {"t": token})
    before = state(delivery)

    response = client.post(status_resend_url(delivery), {"t": token}, follow=True)

    assert "Please wait before sending it once more." in response.content.decode()
    assert state(delivery) == before


def test_no_resend_button_for_a_refunded_order(client: Client, delivery: CardDelivery) -> None:
    order_refund(order_id=delivery.order_id)
    order = delivery.order

    page = client.get(f"/orders/{order.public_id}/?t={order_access_token(order)}")

    assert ">Resend</button>" not in page.content.decode()
