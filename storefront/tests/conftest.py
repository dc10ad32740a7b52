"""Storefront fixtures: a merchant's catalogue with fixed-amount and custom-amount cards."""

from __future__ import annotations

import pytest

from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant


@pytest.fixture
def fixed_product(merchant: Merchant) -> Product:
    return ProductFactory(
        merchant=merchant,
        name="Classic card",
        description="Good for any coffee, cake or bag of beans.",
        currency="EUR",
        denominations=[5000, 2500, 10000],
        validity_days=730,
    )


@pytest.fixture
def custom_product(merchant: Merchant) -> Product:
    return ProductFactory(
        merchant=merchant,
        name="Any amount",
        currency="EUR",
        min_amount=1000,
        max_amount=30000,
    )


@pytest.fixture
def hidden_product(merchant: Merchant) -> Product:
    return ProductFactory(
        merchant=merchant,
        name="Retired design",
        currency="EUR",
        denominations=[2000],
        is_active=False,
    )
