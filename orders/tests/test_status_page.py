"""The buyer's order status page: signed link or signed-in buyer, masked recipients,
delivery per card, and a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import User
from giftcards.models import GiftCard, Product
from orders.models import Order
from orders.services import LineRequest, order_access_token
from orders.tests.factories import order_pay as paid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def url(order: Order, token: str | None = None) -> str:
    return f"/orders/{order.public_id}/?t={order_access_token(order) if token is None else token}"


def test_the_signed_link_shows_state_lines_and_masked_recipients(
    client: Client, make_order: Callable[..., Order], product: Product
) -> None:
    order = paid(
        make_order(
            LineRequest(
                product,
                5000,
                is_gift=True,
                recipient_name="Ana",
                recipient_email="ana.lopez@example.com",
                recipient_phone="+447700900123",
                message="Enjoy!",
                deliver_at=timezone.now() + timedelta(days=3),
                buyer_timezone="Europe/London",
            ),
        )
    )
    card = GiftCard.objects.get()

    response = client.get(url(order))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Your order" in html
    assert "<h1>" in html
    assert "Fulfilled" in html
    assert "€50.00" in html
    assert "a***@example.com" in html
    assert "ana.lopez@example.com" not in html
    assert "+44*****23" in html
    assert "+447700900123" not in html
    assert card.last4 in html
    assert "Scheduled for" in html
    assert "Europe/London" in html
    assert "Test mode: no money moves" in html
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )


def test_no_token_a_bad_token_or_another_orders_token_is_a_404(
    client: Client, make_order: Callable[..., Order]
) -> None:
    order, other = make_order(), make_order()
    assert client.get(f"/orders/{order.public_id}/").status_code == 404
    assert client.get(url(order, "x:y")).status_code == 404
    assert client.get(url(order, order_access_token(other))).status_code == 404
    assert client.get("/orders/ord_nope/?t=x").status_code == 404


def test_the_link_expires_after_thirty_days(
    client: Client, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    link = url(order)
    with time_machine.travel(timezone.now() + timedelta(days=29)):
        assert client.get(link).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert client.get(link).status_code == 404


def test_the_signed_in_buyer_sees_it_without_a_token_and_nobody_else_does(
    make_order: Callable[..., Order], user: User
) -> None:
    order = make_order(buyer=user)
    mine, stranger = Client(), Client()
    mine.force_login(user)
    stranger.force_login(UserFactory())

    assert mine.get(f"/orders/{order.public_id}/").status_code == 200
    assert stranger.get(f"/orders/{order.public_id}/").status_code == 404


def test_the_page_never_shows_a_card_code(
    client: Client, make_order: Callable[..., Order], product: Product
) -> None:
    from giftcards import codes

    order = paid(make_order(LineRequest(product, 2500, quantity=2)))

    html = client.get(url(order)).content.decode()

    for card in GiftCard.objects.all():
        code = codes.decrypt(card.code_encrypted)
        assert code not in html
        assert codes.format_code(code) not in html


def test_the_page_costs_the_same_queries_for_one_card_or_many(
    client: Client,
    make_order: Callable[..., Order],
    product: Product,
    django_assert_num_queries: Callable[..., object],
) -> None:
    small = paid(make_order(LineRequest(product, 2500)))
    large = paid(
        make_order(
            LineRequest(product, 2500, quantity=5),
            LineRequest(product, 5000, quantity=3, is_gift=True, recipient_phone="+447700900123"),
        )
    )
    client.get(url(small))  # warm-up: sessions, content types

    # The order with its merchant, its lines with their products, and the cards with
    # their deliveries and message logs.
    for order in (large, small):
        with django_assert_num_queries(3):  # type: ignore[operator]
            assert client.get(url(order)).status_code == 200


def test_a_delivery_well_past_its_time_shows_late_to_buyer_and_merchant(
    client: Client, make_order: Callable[..., Order], product: Product
) -> None:
    from merchants.models import Membership, Role

    order = paid(
        make_order(
            LineRequest(
                product,
                5000,
                is_gift=True,
                recipient_name="Ana",
                recipient_email="ana@example.com",
                deliver_at=timezone.now() + timedelta(minutes=10),
            )
        )
    )
    owner = UserFactory()
    Membership.objects.create(merchant=order.merchant, user=owner, role=Role.OWNER)
    merchant_client = Client()
    merchant_client.force_login(owner)
    merchant_page = f"/m/{order.merchant.slug}/orders/{order.public_id}/"

    # On time (and up to five minutes after): scheduled, not late.
    with time_machine.travel(timezone.now() + timedelta(minutes=14)):
        assert "Scheduled for" in client.get(url(order)).content.decode()
        assert "badge-late" not in merchant_client.get(merchant_page).content.decode()

    # The job that sends due cards has not run for a while: both see that it is late.
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        buyer = client.get(url(order)).content.decode()
        assert "Late: it was due" in buyer
        assert "has not gone out yet" in buyer
        shop = merchant_client.get(merchant_page).content.decode()
        assert "badge-late" in shop
        assert "is the scheduler running?" in shop
