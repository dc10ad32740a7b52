"""Phone numbers and email addresses people type, each read by one rule everywhere
(storefront, card issuing, bulk files, the API, one-time codes, admin test messages).

Phones become E.164 (``+447700900123``) through the ``phonenumbers`` library:

- the number must carry its country code, written ``+44...`` or ``0044...``. There is no
  region default: the platform knows no person's country, and a merchant's customers
  text from abroad, so a national number (``07700 900123``) is refused, not guessed;
- spaces, dots, dashes, slashes and brackets are ignored, and a trunk zero written in
  brackets is dropped (``+44 (0)20 7946 0000`` is ``+442079460000``); letters, extensions
  and digits other than ASCII 0-9 are refused;
- the country code must exist and the length must fit that country's numbers
  (``phonenumbers``' "possible number"). Whether the range is assigned today is not
  asked: those tables change with every release, a refused real number costs a sale,
  and the SMS provider reports a number that does not answer.

Emails: trimmed, validated by Django's validator, and lower-cased as a whole. That is
how accounts store and match addresses (``accounts.User``, case-insensitive unique), so
a card, an order or an invitation sent to ``Ana@Example.com`` is found by the account
``ana@example.com``. Providers treat the local part case-insensitively in practice.

Masking for logs lives in ``communications.masking``.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

PHONE_EXAMPLE = "+447700900123"
# What people put between digits; anything else (letters, "ext", "#") is refused.
_PHONE_TEXT = re.compile(r"\+?[0-9 ().\-/\u00a0]+")


class InvalidPhone(ValueError):
    """Not a phone number in international format; the message says what to type."""


class InvalidEmail(ValueError):
    """Not an email address; the message says so."""


def normalise_phone(text: str) -> str:
    """The E.164 form of a phone number typed with its country code, or ``InvalidPhone``."""
    raw = (text or "").strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not raw.startswith("+") or not _PHONE_TEXT.fullmatch(raw):
        raise InvalidPhone(_PHONE_MESSAGE)
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(_PHONE_MESSAGE) from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidPhone(_PHONE_MESSAGE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_PHONE_MESSAGE = (
    "Enter the phone number in international format, starting with + and the country "
    f"code, for example {PHONE_EXAMPLE}."
)


def normalise_email(text: str) -> str:
    """The address trimmed and lower-cased, or ``InvalidEmail``."""
    email = email_key(text)
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidEmail("Enter a valid email address.") from None
    return email


def email_key(text: str) -> str:
    """The form an address is stored and compared in, without validating it (for
    lookups, where an invalid address simply matches nothing)."""
    return (text or "").strip().lower()
