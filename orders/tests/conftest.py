"""Fixtures of the order tests: products to buy, orders in each state, Stripe signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from communications.backends import reset_backends
from communications.backends.sms import InMemorySMSBackend
from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant
from orders.models import Order, PaymentProvider
from orders.payments.units import to_provider
from orders.services import LineRequest
from orders.tests.factories import OrderFactory

WEBHOOK_SECRET = "whsec_test_secret_for_orders"


@pytest.fixture(autouse=True)
def _fresh_outboxes() -> Iterator[None]:
    InMemorySMSBackend.outbox.clear()
    reset_backends()
    yield
    reset_backends()


@pytest.fixture
def sms_outbox() -> list[Any]:
    return InMemorySMSBackend.outbox


@pytest.fixture
def custom_product(merchant: Merchant) -> Product:
    return ProductFactory(merchant=merchant, name="Any amount", min_amount=1000, max_amount=20000)


@pytest.fixture
def make_order(merchant: Merchant, product: Product) -> Callable[..., Order]:
    def make(*lines: LineRequest, **kwargs: Any) -> Order:
        kwargs.setdefault("merchant", merchant)
        return OrderFactory(lines=list(lines) or [LineRequest(product, 2500)], **kwargs)

    return make


@pytest.fixture
def stripe_settings(settings: Any) -> Any:
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_orders"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


def stripe_signature(payload: str, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The ``Stripe-Signature`` header as Stripe builds it: HMAC-SHA256 over ``t.payload``."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def stripe_event(
    event_type: str, obj: dict[str, Any], *, event_id: str = "evt_1"
) -> dict[str, Any]:
    """An event shaped like the ones Stripe sends (API version 2024-06-20)."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_session(order: Order, **overrides: Any) -> dict[str, Any]:
    """A Checkout Session object as Stripe sends it in ``checkout.session.*`` events,
    its amounts in Stripe's units of the order's currency."""
    total = to_provider(order.total, order.currency, provider=PaymentProvider.STRIPE)
    session = {
        "id": order.provider_reference or "cs_test_a1b2c3",
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "client_reference_id": order.public_id,
        "currency": order.currency.lower(),
        "customer_details": {"email": order.buyer_email, "name": None},
        "customer_email": order.buyer_email,
        "expires_at": int(time.time()) + 86400,
        "livemode": False,
        "metadata": {"order_id": order.public_id, "merchant": order.merchant.slug},
        "mode": "payment",
        "payment_intent": "pi_3Ptest",
        "payment_status": "paid",
        "status": "complete",
        "url": None,
    }
    session.update(overrides)
    return session


def post_event(client: Any, event: dict[str, Any], *, signature: str | None = None) -> Any:
    payload = json.dumps(event)
    return client.post(
        "/hooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature or stripe_signature(payload)},
    )
