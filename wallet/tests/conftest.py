"""Fixtures of the wallet tests: a product, paid orders, issued cards, signed-in people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from giftcards import services as giftcard_services
from giftcards.models import Product
from giftcards.services import IssuedCard
from merchants.models import Merchant
from orders.models import Order
from orders.services import LineRequest, order_create, order_mark_paid


@pytest.fixture
def product(merchant: Merchant) -> Product:
    return Product.objects.create(
        merchant=merchant, name="Coffee card", currency="EUR", denominations=[2500, 5000]
    )


@pytest.fixture
def issue(merchant: Merchant) -> Callable[..., IssuedCard]:
    def make(amount: int = 2500, **kwargs: Any) -> IssuedCard:
        kwargs.setdefault("merchant", merchant)
        return giftcard_services.giftcard_issue(amount=amount, currency="EUR", **kwargs)

    return make


@pytest.fixture
def paid_order(
    merchant: Merchant,
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., Order]:
    """Create an order and pay it, running what waits for the commit (as in production)."""

    def make(*lines: LineRequest, buyer: User | None, buyer_email: str = "") -> Order:
        order = order_create(
            merchant=merchant,
            buyer=buyer,
            buyer_email=buyer_email or (buyer.email if buyer else "guest@example.com"),
            buyer_name="Ben Buyer",
            lines=list(lines) or [LineRequest(product, 2500)],
        )
        with django_capture_on_commit_callbacks(execute=True):
            return order_mark_paid(
                order_id=order.pk, provider_reference="", amount=order.total, currency="EUR"
            )

    return make


@pytest.fixture
def user_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
