"""Phone numbers and email addresses: one reading for every form, file and endpoint."""

from __future__ import annotations

import pytest

from core.contact import (
    InvalidEmail,
    InvalidPhone,
    email_key,
    normalise_email,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+447700900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("0044 (7700) 900-123", "+447700900123"),
        ("+44 7700.900.123", "+447700900123"),
        ("  +353 86 123 4567 ", "+353861234567"),
        ("+44 (0)20 7946 0000", "+442079460000"),  # the trunk zero in brackets is dropped
        ("+39 06 1234 5678", "+390612345678"),  # Italy keeps its leading zero
        ("+1 (415) 555-2671", "+14155552671"),
        ("+49 151/12345678", "+4915112345678"),
    ],
)
def test_phone_numbers_with_a_country_code_become_e164(typed: str, e164: str) -> None:
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "07700 900123",  # no country code: no region is guessed
        "7700900123",
        "12345",
        "+0123456",  # no country starts with 0
        "+999 1234 5678",  # no such country code
        "+44 12",  # too short for the UK
        "+44 7700 900123 4567 89",  # too long
        "+44abc",
        "+1-800-FLOWERS",  # letters are not read as digits
        "+44 20 7946 0000 ext. 12",
        "+\u0664\u0664\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0661\u0662\u0663",
        "ana@example.com",
    ],
)
def test_phone_numbers_that_cannot_be_dialled_from_abroad_are_refused(typed: str) -> None:
    with pytest.raises(InvalidPhone, match="international format"):
        normalise_phone(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ana@example.com", "ana@example.com"),
        (" Ana.Lopez@Example.COM ", "ana.lopez@example.com"),
        ("BEN+gifts@EXAMPLE.org", "ben+gifts@example.org"),
    ],
)
def test_email_addresses_are_trimmed_and_lower_cased_whole(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored
    assert email_key(typed) == stored


@pytest.mark.parametrize(
    "typed", ["", "ana", "ana@", "@example.com", "ana@@example.com", "a b@c.d"]
)
def test_text_that_is_not_an_email_address_is_refused(typed: str) -> None:
    with pytest.raises(InvalidEmail, match="valid email address"):
        normalise_email(typed)
