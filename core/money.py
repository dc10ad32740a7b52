"""Money is integer minor units plus an ISO 4217 currency (GC-1). Floats never appear;
conversion to a decimal string happens for display only, with the currency's exponent."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 codes we accept, with their minor-unit exponent.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AUD": 2,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "INR": 2,
    "ISK": 0,
    "JPY": 0,
    "KRW": 0,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "TWD": 2,
    "UGX": 0,
    "USD": 2,
    "ZAR": 2,
    "BHD": 3,
    "KWD": 3,
}
CURRENCY_CHOICES = [(code, code) for code in sorted(CURRENCY_EXPONENTS)]
_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥", "CHF": "CHF "}


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[currency.upper()]


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def format_money(amount_minor: int, currency: str) -> str:
    """``format_money(2550, "EUR") == "€25.50"``; unknown symbols fall back to the code."""
    value = to_decimal(abs(amount_minor), currency)
    places = exponent(currency)
    number = f"{value:,.{places}f}"
    sign = "-" if amount_minor < 0 else ""
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency.upper()}"


def parse_major(value: str, currency: str) -> int:
    """Parse a decimal string typed by a person (``"25.50"``) into minor units, refusing
    more decimal places than the currency has."""
    cleaned = value.strip().replace(",", "")
    amount = Decimal(cleaned)
    places = exponent(currency)
    minor = amount.scaleb(places)
    if minor != minor.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {places} decimal places.")
    return int(minor)
