"""The built-in test provider: a local page where the buyer confirms or declines a
pretend payment. No money moves. Refused in production unless explicitly allowed
(``config.settings.guards``)."""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.http import HttpRequest
from django.urls import reverse

from orders.models import Order, PaymentProvider
from orders.services import order_checkout_started

_SALT = "orders.test-payment"
TOKEN_MAX_AGE = timedelta(days=1)


def payment_token(order: Order) -> str:
    signed = signing.TimestampSigner(salt=_SALT).sign(order.public_id)
    return signed[len(order.public_id) + 1 :]


def payment_token_valid(order: Order, token: str) -> bool:
    if not token:
        return False
    try:
        signing.TimestampSigner(salt=_SALT).unsign(
            f"{order.public_id}:{token}", max_age=TOKEN_MAX_AGE
        )
    except signing.BadSignature:
        return False
    return True


def start_checkout(order: Order, *, request: HttpRequest) -> str:
    order_checkout_started(order_id=order.pk, provider=PaymentProvider.TEST)
    path = reverse("orders:pay-test", kwargs={"public_id": order.public_id})
    return request.build_absolute_uri(f"{path}?t={payment_token(order)}")
