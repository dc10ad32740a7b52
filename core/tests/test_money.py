"""Money: ISO 4217 exponents, display and parsing of what a person types."""

from __future__ import annotations

import pytest

from core.money import CURRENCY_CHOICES, exponent, format_money, parse_major


@pytest.mark.parametrize(
    ("currency", "places"),
    [("EUR", 2), ("HUF", 2), ("TWD", 2), ("ISK", 0), ("JPY", 0), ("UGX", 0), ("KWD", 3)],
)
def test_exponents_are_iso_4217(currency: str, places: int) -> None:
    assert exponent(currency) == places


def test_twd_and_ugx_can_be_chosen_formatted_and_parsed() -> None:
    assert ("TWD", "TWD") in CURRENCY_CHOICES
    assert ("UGX", "UGX") in CURRENCY_CHOICES

    assert format_money(123450, "TWD") == "1,234.50 TWD"
    assert format_money(50000, "UGX") == "50,000 UGX"
    assert parse_major("1,234.50", "TWD") == 123450
    assert parse_major("50000", "UGX") == 50000
    with pytest.raises(ValueError, match="at most 0 decimal places"):
        parse_major("500.5", "UGX")
