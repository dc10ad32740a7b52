"""The built-in test provider: a local page, Confirm issues the cards, Decline issues
nothing; the page is signed and needs the CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client, RequestFactory

from giftcards.models import GiftCard, Product
from orders.models import Order, OrderStatus
from orders.payments import start_checkout
from orders.services import LineRequest

pytestmark = pytest.mark.django_db


def checkout_path(order: Order) -> str:
    url = start_checkout(order, request=RequestFactory().get("/"))
    parts = urlsplit(url)
    assert parts.scheme == "http"
    return f"{parts.path}?{parts.query}"


def token_of(path: str) -> str:
    return path.split("?t=", 1)[1]


def test_the_test_page_shows_the_banner_and_both_buttons(
    client: Client, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    path = checkout_path(order)
    assert path.startswith(f"/pay/test/{order.public_id}/?t=")

    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Test mode: no money moves" in html
    assert 'value="confirm"' in html
    assert 'value="decline"' in html
    assert "€25.00" in html
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_confirm_issues_exactly_the_ordered_cards_and_shows_the_status_page(
    client: Client, make_order: Callable[..., Order], product: Product, custom_product: Product
) -> None:
    order = make_order(
        LineRequest(product, 5000, quantity=2),
        LineRequest(custom_product, 1750, is_gift=True, recipient_email="ana@example.com"),
    )
    path = checkout_path(order)

    response = client.post(path, {"t": token_of(path), "action": "confirm"})

    assert response.status_code == 302
    assert response["Location"].startswith(f"/orders/{order.public_id}/?t=")
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    cards = sorted(GiftCard.objects.values_list("initial_amount", "balance", "product_id"))
    assert cards == [
        (1750, 1750, custom_product.pk),
        (5000, 5000, product.pk),
        (5000, 5000, product.pk),
    ]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Test payment confirmed." in page.content.decode()


def test_decline_fails_the_order_and_issues_nothing(
    client: Client, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    path = checkout_path(order)

    response = client.post(path, {"t": token_of(path), "action": "decline"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert GiftCard.objects.count() == 0


def test_a_second_confirm_changes_nothing(client: Client, make_order: Callable[..., Order]) -> None:
    order = make_order()
    path = checkout_path(order)
    client.post(path, {"t": token_of(path), "action": "confirm"})

    client.post(path, {"t": token_of(path), "action": "confirm"})
    client.post(path, {"t": token_of(path), "action": "decline"})

    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    assert GiftCard.objects.count() == 1


@pytest.mark.parametrize("token", ["", "forged:token", "wrong"])
def test_without_the_signed_token_there_is_no_page(
    client: Client, make_order: Callable[..., Order], token: str
) -> None:
    order = make_order()
    path = f"/pay/test/{order.public_id}/"

    assert client.get(f"{path}?t={token}").status_code == 404
    assert client.post(path, {"t": token, "action": "confirm"}).status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_another_orders_token_does_not_open_this_one(
    client: Client, make_order: Callable[..., Order]
) -> None:
    mine, theirs = make_order(), make_order()
    path = checkout_path(theirs)

    response = client.post(
        f"/pay/test/{mine.public_id}/", {"t": token_of(path), "action": "confirm"}
    )

    assert response.status_code == 404
    assert GiftCard.objects.count() == 0


def test_the_page_needs_the_csrf_token(make_order: Callable[..., Order]) -> None:
    order = make_order()
    path = checkout_path(order)

    response = Client(enforce_csrf_checks=True).post(
        path, {"t": token_of(path), "action": "confirm"}
    )

    assert response.status_code == 403
    assert GiftCard.objects.count() == 0


def test_the_test_page_is_gone_when_another_provider_is_configured(
    client: Client, make_order: Callable[..., Order], settings: Any
) -> None:
    order = make_order()
    path = checkout_path(order)
    settings.PAYMENT_PROVIDER = "stripe"

    assert client.post(path, {"t": token_of(path), "action": "confirm"}).status_code == 404
    assert GiftCard.objects.count() == 0
