"""Money: ISO 4217 exponents, display, and the one reading of amounts people type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    CURRENCY_CHOICES,
    CURRENCY_EXPONENTS,
    MAX_AMOUNT,
    AmountInvalid,
    check_amount,
    example_amount,
    exponent,
    format_money,
    format_plain,
    parse_amount,
)


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
    assert parse_amount("1,234.50", "TWD") == 123450
    assert parse_amount("50000", "UGX") == 50000
    with pytest.raises(AmountInvalid, match="UGX amounts have no decimal places"):
        parse_amount("500.5", "UGX")


@pytest.mark.parametrize(
    ("minor", "currency", "shown", "plain"),
    [
        (2550, "EUR", "€25.50", "25.50"),
        (-125000, "EUR", "-€1,250.00", "-1250.00"),
        (1250, "CHF", "CHF 12.50", "12.50"),
        (1500, "JPY", "¥1,500", "1500"),
        (1500, "ISK", "1,500 ISK", "1500"),
        (1250, "KWD", "1.250 KWD", "1.250"),
        (1234567, "KWD", "1,234.567 KWD", "1234.567"),
    ],
)
def test_amounts_are_shown_with_the_currencys_places(
    minor: int, currency: str, shown: str, plain: str
) -> None:
    assert format_money(minor, currency) == shown
    assert format_plain(minor, currency) == plain


def test_without_a_symbol_the_code_follows_the_number() -> None:
    assert format_money(2550, "EUR", symbol=False) == "25.50 EUR"
    assert format_money(1500, "JPY", symbol=False) == "1,500 JPY"


def test_examples_have_the_currencys_places() -> None:
    assert [example_amount(c) for c in ("EUR", "JPY", "KWD")] == ["25.00", "25", "25.000"]


# --- The table: what people type, per currency ------------------------------------------

ACCEPTED = [
    # EUR: two decimals; a dot or a comma marks them, thousands are grouped unambiguously.
    ("EUR", "12.50", 1250),
    ("EUR", "12,50", 1250),
    ("EUR", "12,5", 1250),
    ("EUR", " 12 ", 1200),
    ("EUR", "0.01", 1),
    ("EUR", "007", 700),
    ("EUR", "1,250.00", 125000),
    ("EUR", "1.250,00", 125000),
    ("EUR", "1 250,00", 125000),
    ("EUR", "1\u00a0250,00", 125000),  # no-break space, as French spreadsheets write it
    ("EUR", "1\u202f250,00", 125000),  # narrow no-break space
    ("EUR", "1'250.50", 125050),
    ("EUR", "1\u2019250.50", 125050),
    ("EUR", "1 250.00", 125000),
    ("EUR", "1 250", 125000),
    ("EUR", "1,250,000", 125000000),
    ("EUR", "1.250.000", 125000000),
    ("EUR", "1.250.000,50", 125000050),
    ("EUR", "+3", 300),
    ("EUR", "€12.50", 1250),
    ("EUR", "€ 12,50", 1250),
    ("EUR", "12,50 €", 1250),
    ("EUR", "12,50€", 1250),
    ("EUR", "EUR 12.50", 1250),
    ("EUR", "12.50 eur", 1250),
    ("EUR", "100,000,000.00", MAX_AMOUNT),
    # JPY: no decimals, so a single separator before three digits can only group.
    ("JPY", "500", 500),
    ("JPY", "1,500", 1500),
    ("JPY", "1.500", 1500),
    ("JPY", "¥1,250,000", 1250000),
    ("JPY", "1 500 JPY", 1500),
    # ISK: no decimals; Icelanders group with dots.
    ("ISK", "1.500", 1500),
    ("ISK", "1.500.000", 1500000),
    ("ISK", "1,500", 1500),
    ("ISK", "ISK 990", 990),
    # KWD: three decimals; the dot is the decimal point, grouping is explicit.
    ("KWD", "1.250", 1250),
    ("KWD", "1,25", 1250),
    ("KWD", "0,5", 500),
    ("KWD", "1,250.000", 1250000),
    ("KWD", "1.250,000", 1250000),
    ("KWD", "1,234.567 KWD", 1234567),
    ("KWD", "12", 12000),
]


@pytest.mark.parametrize(("currency", "text", "minor"), ACCEPTED)
def test_amounts_people_type_are_read_the_same_everywhere(
    currency: str, text: str, minor: int
) -> None:
    assert parse_amount(text, currency) == minor


REFUSED = [
    # nothing, or nothing positive
    ("EUR", "", "required", "Enter an amount."),
    ("EUR", "   ", "required", "Enter an amount."),
    ("EUR", "0", "not_positive", "The amount must be more than 0."),
    ("EUR", "0.00", "not_positive", "The amount must be more than 0."),
    ("EUR", "-5", "not_positive", "The amount must be more than 0."),
    ("EUR", "\u22125", "not_positive", "The amount must be more than 0."),  # minus sign
    ("EUR", "-€5", "not_positive", "The amount must be more than 0."),
    # not a number
    ("EUR", "abc", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "NaN", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "Infinity", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "1e3", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "0x10", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "12.", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", ".50", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "1,,250", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "++3", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "€12 EUR", "invalid", "Type the amount as a number, for example 25.00."),
    ("EUR", "1" * 41, "invalid", "Type the amount as a number, for example 25.00."),
    ("JPY", "five", "invalid", "Type the amount as a number, for example 25."),
    # digits other than 0-9
    ("EUR", "\u0661\u0662", "invalid", "Type the amount with the digits 0 to 9."),
    ("JPY", "\uff11\uff12\uff13", "invalid", "Type the amount with the digits 0 to 9."),
    # grouping that is not in threes, or two decimal marks
    ("EUR", "12.5.0", "grouping", "without thousands separators"),
    ("EUR", "1,2345.00", "grouping", "without thousands separators"),
    ("EUR", "12 50", "grouping", "without thousands separators"),
    ("EUR", "1.250.00", "grouping", "without thousands separators"),
    ("EUR", "1,250,00", "grouping", "without thousands separators"),
    ("INR", "1,25,000", "grouping", "without thousands separators"),
    ("EUR", "1 250'000", "grouping", "without thousands separators"),
    # a comma before three digits, in a currency with decimals: read two ways
    ("EUR", "1,250", "ambiguous", "“1,250” could be read two ways"),
    ("EUR", "12,505", "ambiguous", "for example 12505.00"),
    ("KWD", "1,250", "ambiguous", "for example 1250.000"),
    # more decimals than the currency has (a dot is our decimal point)
    ("EUR", "10.001", "precision", "EUR amounts have at most 2 decimal places."),
    ("EUR", "1.250", "precision", "EUR amounts have at most 2 decimal places."),
    ("EUR", "0,500", "precision", "EUR amounts have at most 2 decimal places."),
    ("EUR", "1,250.005", "precision", "EUR amounts have at most 2 decimal places."),
    ("JPY", "10.5", "precision", "JPY amounts have no decimal places."),
    ("JPY", "1,50", "precision", "JPY amounts have no decimal places."),
    ("ISK", "99,9", "precision", "ISK amounts have no decimal places."),
    ("KWD", "1.2345", "precision", "KWD amounts have at most 3 decimal places."),
    ("KWD", "1,2345", "precision", "KWD amounts have at most 3 decimal places."),
    # another currency's code or symbol
    ("EUR", "5.5 JPY", "currency", "This amount is in EUR; what was typed names JPY."),
    ("EUR", "£12", "currency", "This amount is in EUR; what was typed names GBP."),
    ("KWD", "$12", "currency", "This amount is in KWD; what was typed names USD."),
    # absurd sizes
    ("EUR", "100,000,000.01", "too_large", "larger than the platform allows"),
    ("EUR", "99999999999999", "too_large", "(at most €100,000,000.00)"),
    ("JPY", "99999999999", "too_large", "(at most ¥10,000,000,000)"),
]


@pytest.mark.parametrize(("currency", "text", "code", "message"), REFUSED)
def test_amounts_that_cannot_be_read_safely_are_refused_with_a_reason(
    currency: str, text: str, code: str, message: str
) -> None:
    with pytest.raises(AmountInvalid) as refused:
        parse_amount(text, currency)
    assert refused.value.code == code
    assert message in str(refused.value)


@given(
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    minor=st.integers(min_value=1, max_value=MAX_AMOUNT),
)
def test_what_is_shown_reads_back_as_the_same_amount(currency: str, minor: int) -> None:
    assert parse_amount(format_money(minor, currency), currency) == minor
    assert parse_amount(format_plain(minor, currency), currency) == minor


CODES = {
    "required",
    "invalid",
    "not_positive",
    "precision",
    "ambiguous",
    "grouping",
    "currency",
    "too_large",
}


@given(text=st.text(max_size=30), currency=st.sampled_from(["EUR", "JPY", "ISK", "KWD"]))
def test_any_text_is_an_amount_in_range_or_a_refusal(text: str, currency: str) -> None:
    refusal: AmountInvalid | None = None
    try:
        minor = parse_amount(text, currency)
    except AmountInvalid as refused:
        refusal = refused
    if refusal is None:
        assert 1 <= minor <= MAX_AMOUNT
    else:
        assert refusal.code in CODES
        assert str(refusal).endswith(".")


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1, True, 12.5, "12"])
def test_minor_units_outside_the_platforms_range_are_refused(amount: object) -> None:
    with pytest.raises(AmountInvalid):
        check_amount(amount, "EUR")  # type: ignore[arg-type]
