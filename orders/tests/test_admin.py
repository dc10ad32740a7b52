"""The platform admin shows orders read-only, with their lines, and never a card code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from giftcards import codes
from giftcards.models import GiftCard, Product
from orders.models import Order
from orders.services import LineRequest
from orders.tests.factories import order_pay

pytestmark = pytest.mark.django_db


def test_orders_are_listed_filtered_and_shown_read_only(
    admin_client: Client, make_order: Callable[..., Order], product: Product
) -> None:
    order = make_order(LineRequest(product, 2500, quantity=2))
    order_pay(order)

    listing = admin_client.get("/admin/orders/order/?status__exact=fulfilled&provider__exact=test")
    detail = admin_client.get(f"/admin/orders/order/{order.pk}/change/")

    assert listing.status_code == 200
    assert order.public_id in listing.content.decode()
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "Coffee card" in html
    assert 'name="_save"' not in html
    for card in GiftCard.objects.all():
        assert codes.format_code(codes.decrypt(card.code_encrypted)) not in html
        assert card.code_encrypted not in html
    assert admin_client.get("/admin/orders/order/add/").status_code == 403
    for path in ("/admin/orders/paymentevent/", "/admin/orders/carddelivery/"):
        assert admin_client.get(path).status_code == 200
