"""A product's amount and validity rules, in the one module every caller asks."""

from __future__ import annotations

from typing import Any

import pytest

from core.money import MAX_AMOUNT
from giftcards.models import Product
from giftcards.product_rules import (
    AmountRange,
    product_amount_range,
    product_amount_refusal,
    product_terms_refusal,
    product_validity_days,
)
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


def product(merchant: Merchant, **values: Any) -> Product:
    values.setdefault("name", "Classic")
    values.setdefault("currency", "EUR")
    values.setdefault("denominations", [])
    return ProductFactory(merchant=merchant, **values)


def test_fixed_amounts_allow_only_themselves(merchant: Merchant) -> None:
    fixed = product(merchant, denominations=[2500, 5000])
    assert product_amount_refusal(fixed, 2500) is None
    assert product_amount_refusal(fixed, 3000) == (
        "Classic comes in these amounts only: €25.00, €50.00."
    )
    assert product_amount_range(fixed) == AmountRange(low=2500, high=5000)


def test_a_range_allows_its_ends_and_refuses_beyond_them(merchant: Merchant) -> None:
    ranged = product(merchant, min_amount=1000, max_amount=30000)
    assert product_amount_refusal(ranged, 1000) is None
    assert product_amount_refusal(ranged, 30000) is None
    assert product_amount_refusal(ranged, 999) == "The smallest amount is €10.00."
    assert product_amount_refusal(ranged, 30001) == "The largest amount is €300.00."


def test_an_open_range_ends_at_the_platforms_limit(merchant: Merchant) -> None:
    open_ended = product(merchant, currency="JPY")
    assert product_amount_range(open_ended) == AmountRange(low=1, high=MAX_AMOUNT)
    assert product_amount_refusal(open_ended, MAX_AMOUNT) is None
    refusal = product_amount_refusal(open_ended, MAX_AMOUNT + 1)
    assert refusal is not None
    assert "larger than the platform allows (at most ¥10,000,000,000)" in refusal


@pytest.mark.parametrize("amount", [0, -5, True, 12.5])
def test_amounts_that_are_not_positive_whole_minor_units_are_refused(
    merchant: Merchant, amount: Any
) -> None:
    assert product_amount_refusal(product(merchant), amount) is not None


def test_validity_is_raised_to_the_platforms_floor(merchant: Merchant, settings: Any) -> None:
    settings.GIFTCARD_MIN_VALIDITY_DAYS = 365
    assert product_validity_days(product(merchant, validity_days=730)) == 730
    assert product_validity_days(product(merchant, validity_days=30)) == 365  # an old product
    assert product_validity_days(product(merchant)) is None


TERMS: dict[str, Any] = {
    "currency": "EUR",
    "denominations": [],
    "min_amount": None,
    "max_amount": None,
    "validity_days": None,
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"currency": "XYZ"}, "currency", "XYZ is not a supported currency."),
        ({"denominations": [1000], "min_amount": 500}, None, "fixed amounts or a range"),
        ({"denominations": [1000, 0]}, "denominations", "more than 0"),
        ({"denominations": [1000, 1000]}, "denominations", "€10.00 is listed more than once."),
        ({"max_amount": MAX_AMOUNT + 1}, "max_amount", "larger than the platform allows"),
        ({"min_amount": 500, "max_amount": 100}, "max_amount", "must not be below the smallest"),
        ({"validity_days": 0}, "validity_days", "at least one day"),
        ({"validity_days": 364}, "validity_days", "at least 365 days on this platform"),
    ],
)
def test_product_terms_are_refused_on_the_field_at_fault(
    settings: Any, changes: dict[str, Any], field: str | None, message: str
) -> None:
    settings.GIFTCARD_MIN_VALIDITY_DAYS = 365
    refusal = product_terms_refusal(**{**TERMS, **changes})
    assert refusal is not None
    assert refusal.field == field
    assert message in refusal.detail


def test_terms_within_the_rules_are_accepted(settings: Any) -> None:
    settings.GIFTCARD_MIN_VALIDITY_DAYS = 365
    assert product_terms_refusal(**{**TERMS, "denominations": [1000, 2500]}) is None
    assert product_terms_refusal(**{**TERMS, "min_amount": 500, "validity_days": 365}) is None
