"""Money is integer minor units plus an ISO 4217 currency (GC-1). Floats never appear;
conversion to a decimal string happens for display only, with the currency's exponent.

This module owns the two conversions between people and minor units:

- ``format_money`` (``"€1,250.00"``, ``"50,000 UGX"``) for display, and ``format_plain``
  (``"1250.00"``) for a value a person or a spreadsheet reads back into a field;
- ``parse_amount``: every amount a person types (the till, the card forms, product
  amounts, the storefront's custom amount, bulk CSV files) goes through it, so the same
  text is accepted, or refused with the same message, everywhere. The REST API takes
  integer minor units only and does not use it.

How typed amounts are read
--------------------------
The platform has no per-person locale, so "locale-aware" means: both written conventions
are accepted from everyone, the dot-decimal one (``1,250.50``) and the comma-decimal one
(``1.250,50``, ``1 250,50``, ``1'250.50``), and where the two disagree the currency's
exponent decides or the input is refused. Display always uses the first convention.

Accepted:

- digits with an optional decimal mark, a dot or a comma: ``12.50``, ``12,50``, ``12,5``;
- thousands grouped in threes with spaces (also no-break and thin spaces), apostrophes,
  commas or dots, when the grouping is unambiguous: ``1,250.00``, ``1.250,00``,
  ``1 250,00``, ``1'250.00``, ``1,250,000``;
- one ``+`` sign, and the currency's own code or symbol before or after the number:
  ``EUR 12.50``, ``12.50 eur``, ``€12.50``, ``12,50 €`` (so what ``format_money`` prints
  is read back as the same amount).

Refused, each with a message that says what to type instead:

- empty text, a negative amount or zero;
- letters, exponents (``1e3``), ``NaN``/``Infinity``, two decimal marks, grouping that
  is not in threes (``12,34,567``) or mixes marks;
- digits other than ASCII 0-9 (Arabic-Indic, full-width...): they come with separators
  of their own that this reader does not know, and nothing here displays them;
- another currency's code or symbol (``5 JPY`` for a EUR card);
- more decimals than the currency has (``10.001`` EUR, ``10.5`` JPY);
- more than ``MAX_AMOUNT`` minor units, or more than ``MAX_INPUT_LENGTH`` characters;
- a single comma followed by exactly three digits (``1,250``): English groups thousands
  with it, other conventions mark decimals with it. For a currency without decimals
  (JPY, ISK) it can only group, so ``1,500`` is 1500; otherwise it is refused rather than
  guessed. A single dot is the decimal point we print ourselves, so ``1.250`` is 1.250
  KWD and too many decimals for EUR (refused, not read as a thousand: a mistyped decimal
  like ``12.505`` must not become a thousand-fold amount); only for a currency without
  decimals does ``1.500`` group thousands (ISK writes it so).
"""

from __future__ import annotations

import re
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

# The largest amount anything on the platform holds or moves, in minor units of any
# currency: far above any real card, far below the 64-bit column limit.
MAX_AMOUNT = 100_000_000_00
# Longer text is not an amount anyone typed ("100,000,000.00 EUR" is 18 characters).
MAX_INPUT_LENGTH = 40


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[currency.upper()]


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def format_money(amount_minor: int, currency: str, *, symbol: bool = True) -> str:
    """``format_money(2550, "EUR") == "€25.50"``; without a known symbol, or with
    ``symbol=False`` (for fonts that may lack one), the code follows: ``"25.50 EUR"``."""
    value = to_decimal(abs(amount_minor), currency)
    places = exponent(currency)
    number = f"{value:,.{places}f}"
    sign = "-" if amount_minor < 0 else ""
    symbol_text = _SYMBOLS.get(currency.upper()) if symbol else None
    if symbol_text:
        return f"{sign}{symbol_text}{number}"
    return f"{sign}{number} {currency.upper()}"


def format_plain(amount_minor: int, currency: str) -> str:
    """``format_plain(125000, "EUR") == "1250.00"``: no symbol, no grouping, every decimal
    place; what a form field is pre-filled with and a spreadsheet reads as a number."""
    places = exponent(currency)
    return f"{to_decimal(amount_minor, currency):.{places}f}"


def example_amount(currency: str) -> str:
    """``"25.00"``, ``"25"`` or ``"25.000"``: an amount to show in help texts."""
    return format_plain(25 * 10 ** exponent(currency), currency)


# --- Reading what people type ---------------------------------------------------------


class AmountInvalid(ValueError):
    """Typed text that is not a usable amount. The message is for the person who typed
    it; ``code`` says which rule refused it (``required``, ``invalid``, ``not_positive``,
    ``precision``, ``ambiguous``, ``grouping``, ``currency``, ``too_large``)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_SPACES = frozenset(" \u00a0\u2007\u2009\u202f")  # space, no-break, figure, thin, narrow
_APOSTROPHES = frozenset("'\u2019")
_MINUS = frozenset("-\u2212\u2013")  # hyphen-minus, minus sign, en dash
_SEPARATORS = _SPACES | _APOSTROPHES | {",", "."}
_DIGITS = frozenset("0123456789")
# [sign] [code or symbol] [sign] number [code or symbol]; what is left is the number.
_SIGNS = r"+\-\u2212\u2013"
_MARKS = r".,'\u2019"
_SHAPE = re.compile(
    rf"(?P<sign>[{_SIGNS}]?)\s*(?P<before>[^\d\s{_SIGNS}{_MARKS}]*)\s*(?P<sign2>[{_SIGNS}]?)\s*"
    rf"(?P<number>.*?)\s*(?P<after>[^\d\s{_MARKS}]*)"
)
# Symbols people type: each names one currency here. "$" and "¥" are read as the
# currency ``format_money`` prints them for; a dollar amount in AUD is typed without one.
_SYMBOL_CURRENCY = {"€": "EUR", "£": "GBP", "$": "USD", "¥": "JPY"}


def parse_amount(text: str | None, currency: str) -> int:
    """The amount in ``text`` as minor units of ``currency``, above 0 and at most
    ``MAX_AMOUNT``; ``AmountInvalid`` otherwise. The rules are in the module docstring."""
    code = currency.upper()
    places = exponent(code)
    shown = (text or "").strip()
    if not shown:
        raise AmountInvalid("Enter an amount.", code="required")
    if len(shown) > MAX_INPUT_LENGTH:
        raise _not_a_number(code)
    if any(ch.isdigit() and ch not in _DIGITS for ch in shown):
        raise AmountInvalid("Type the amount with the digits 0 to 9.", code="invalid")
    body, negative = _without_sign_and_currency(shown, code)
    if negative:
        raise AmountInvalid("The amount must be more than 0.", code="not_positive")
    runs, marks = _split(body, code)
    whole, fraction = _read_marks(shown, runs, marks, code)
    if len(fraction) > places:
        raise AmountInvalid(_precision_message(code, places), code="precision")
    minor = int(whole + fraction.ljust(places, "0"))
    check_amount(minor, code)
    return minor


def check_amount(amount: int, currency: str) -> None:
    """Refuse (``AmountInvalid``) minor units no amount on the platform may be: other than
    a whole number, 0 or less, or above ``MAX_AMOUNT``."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise AmountInvalid("Amounts are whole numbers of minor units.", code="invalid")
    if amount <= 0:
        raise AmountInvalid("The amount must be more than 0.", code="not_positive")
    if amount > MAX_AMOUNT:
        raise AmountInvalid(
            "That amount is larger than the platform allows "
            f"(at most {format_money(MAX_AMOUNT, currency)}).",
            code="too_large",
        )


def _not_a_number(code: str) -> AmountInvalid:
    return AmountInvalid(
        f"Type the amount as a number, for example {example_amount(code)}.", code="invalid"
    )


def _precision_message(code: str, places: int) -> str:
    if places == 0:
        return f"{code} amounts have no decimal places."
    return f"{code} amounts have at most {places} decimal places."


def _currency_named(token: str) -> str | None:
    """The currency a code or symbol typed next to the number names, if it names one."""
    if token in _SYMBOL_CURRENCY:
        return _SYMBOL_CURRENCY[token]
    upper = token.upper()
    return upper if upper in CURRENCY_EXPONENTS else None


def _without_sign_and_currency(text: str, code: str) -> tuple[str, bool]:
    """The number in ``text`` without its sign and its currency code or symbol (either
    side, at most one of each), and whether the sign was a minus."""
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        raise _not_a_number(code)
    signs = shape["sign"] + shape["sign2"]
    tokens = [token for token in (shape["before"], shape["after"]) if token]
    if len(signs) > 1 or len(tokens) > 1:
        raise _not_a_number(code)
    if tokens:
        named = _currency_named(tokens[0])
        if named is None:
            raise _not_a_number(code)
        if named != code:
            raise AmountInvalid(
                f"This amount is in {code}; what was typed names {named}.", code="currency"
            )
    return shape["number"], bool(signs) and signs in _MINUS


def _split(body: str, code: str) -> tuple[list[str], list[str]]:
    """Digit runs and the single separator between each pair of them."""
    runs: list[str] = []
    marks: list[str] = []
    current = ""
    for ch in body:
        if ch in _DIGITS:
            current += ch
        elif ch in _SEPARATORS and current:
            runs.append(current)
            marks.append(" " if ch in _SPACES else "'" if ch in _APOSTROPHES else ch)
            current = ""
        else:  # a letter, a second sign, two separators in a row, a leading separator
            raise _not_a_number(code)
    if not current:  # empty, or ends with a separator ("12." or "1,")
        raise _not_a_number(code)
    runs.append(current)
    return runs, marks


def _read_marks(shown: str, runs: list[str], marks: list[str], code: str) -> tuple[str, str]:
    """The whole and fractional digits, deciding which mark (if any) is the decimal one."""
    places = exponent(code)
    if not marks:
        return runs[0], ""
    kinds = set(marks)
    last = marks[-1]
    decimal: str | None
    if len(kinds) == 1:
        if last not in ",." or len(marks) > 1:
            decimal = None  # spaces or apostrophes, or one mark repeated: grouping only
        elif len(runs[-1]) != 3 or not _grouped_in_threes(runs[:-1]):
            decimal = last  # it cannot be grouping ("12,50", "1234.567", "0.500")
        elif places == 0:
            decimal = None  # "1,500" JPY, "1.500" ISK: no decimals, so a thousands mark
        elif last == ".":
            decimal = last  # our own decimal point: "1.250" KWD; too precise for EUR
        else:
            example = format_plain(int("".join(runs)) * 10**places, code)
            raise AmountInvalid(
                f"“{shown}” could be read two ways. Write the amount without thousands "
                f"separators, with a dot for decimals: for example {example}.",
                code="ambiguous",
            )
    elif len(kinds) == 2 and last in ",." and marks.count(last) == 1:
        decimal = last  # "1,250.00", "1.250,00", "1 250,00", "1'250.50"
    else:
        raise _grouping_error()
    integer_runs = runs[:-1] if decimal else runs
    if len(integer_runs) > 1 and not _grouped_in_threes(integer_runs):
        raise _grouping_error()
    return "".join(integer_runs), runs[-1] if decimal else ""


def _grouped_in_threes(runs: list[str]) -> bool:
    first, *others = runs
    return 1 <= len(first) <= 3 and first[0] != "0" and all(len(run) == 3 for run in others)


def _grouping_error() -> AmountInvalid:
    return AmountInvalid(
        "Write the amount without thousands separators, for example 1250.00.", code="grouping"
    )
