"""The built-in test provider: a local page where the buyer confirms or declines a
pretend payment. No money moves. Refused in production unless explicitly allowed
(``config.settings.guards``)."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from django.urls import reverse

from core.signing import TokenSigner
from orders.models import Order, PaymentProvider
from orders.services import order_checkout_started

TOKEN_MAX_AGE = timedelta(days=1)
_TOKENS = TokenSigner(salt="orders.test-payment", max_age=TOKEN_MAX_AGE)


def payment_token(order: Order) -> str:
    """The ``?t=`` of the test payment page: signed, valid for a day."""
    return _TOKENS.sign_detached(order.public_id)


def payment_token_valid(order: Order, token: str) -> bool:
    return _TOKENS.check_detached(order.public_id, token)


def start_checkout(order: Order, *, request: HttpRequest) -> str:
    order_checkout_started(order_id=order.pk, provider=PaymentProvider.TEST)
    path = reverse("orders:pay-test", kwargs={"public_id": order.public_id})
    return request.build_absolute_uri(f"{path}?t={payment_token(order)}")
