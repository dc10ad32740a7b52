"""Payment providers behind one interface (SF-3).

``start_checkout(order, *, request)`` returns the address to send the buyer to: the
built-in test page (no money moves; for the zero-setup run and tests) or a Stripe
Checkout page. The provider is the ``PAYMENT_PROVIDER`` setting. Card data never
reaches this server (PR-3): the buyer types it on the provider's page.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from orders.exceptions import PaymentProviderError
from orders.models import Order, PaymentProvider


def configured_provider() -> str:
    return str(settings.PAYMENT_PROVIDER)


def testmode_enabled() -> bool:
    return configured_provider() == PaymentProvider.TEST


def start_checkout(order: Order, *, request: HttpRequest) -> str:
    """Begin paying the pending ``order``; the URL to redirect the buyer to."""
    provider = configured_provider()
    if provider == PaymentProvider.TEST:
        from orders.payments import testmode

        return testmode.start_checkout(order, request=request)
    if provider == PaymentProvider.STRIPE:
        from orders.payments import stripe_checkout

        return stripe_checkout.start_checkout(order, request=request)
    raise PaymentProviderError("Payments are not configured for this shop.")


__all__ = ["configured_provider", "start_checkout", "testmode_enabled"]
