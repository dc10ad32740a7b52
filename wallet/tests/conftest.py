"""Fixtures of the wallet tests: paid orders, issued cards, signed-in people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from giftcards.models import Product
from giftcards.services import IssuedCard
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Merchant
from orders.models import Order
from orders.services import LineRequest
from orders.tests.factories import OrderFactory, order_pay


@pytest.fixture
def issue(merchant: Merchant) -> Callable[..., IssuedCard]:
    def make(amount: int = 2500, **kwargs: Any) -> IssuedCard:
        kwargs.setdefault("merchant", merchant)
        return IssuedCardFactory(amount=amount, currency="EUR", **kwargs)

    return make


@pytest.fixture
def paid_order(
    merchant: Merchant,
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., Order]:
    """Create an order and pay it, running what waits for the commit (as in production)."""

    def make(*lines: LineRequest, buyer: User | None, buyer_email: str = "") -> Order:
        order = OrderFactory(
            merchant=merchant,
            buyer=buyer,
            buyer_email=buyer_email or (buyer.email if buyer else "guest@example.com"),
            buyer_name="Ben Buyer",
            lines=list(lines) or [LineRequest(product, 2500)],
        )
        with django_capture_on_commit_callbacks(execute=True):
            return order_pay(order)

    return make


@pytest.fixture
def user_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
