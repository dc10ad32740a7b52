"""Codes (GC-4): entropy, check symbol, normalisation, digest and encryption."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from giftcards import codes

bodies = st.text(
    alphabet=codes.ALPHABET, min_size=codes.RANDOM_SYMBOLS, max_size=codes.RANDOM_SYMBOLS
)


def _code(body: str) -> str:
    return body + codes.check_symbol(body)


def test_codes_carry_at_least_75_bits_and_a_check_symbol() -> None:
    assert codes.ENTROPY_BITS >= 75
    code = codes.generate()
    assert len(code) == 16
    assert set(code) <= set(codes.ALPHABET)
    assert codes.is_valid(code)
    assert len({codes.generate() for _ in range(2000)}) == 2000


def test_the_alphabet_is_crockford_base32() -> None:
    assert codes.ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert not set("ILOU") & set(codes.ALPHABET)


@settings(max_examples=300)
@given(body=bodies, position=st.integers(0, 15), replacement=st.sampled_from(codes.ALPHABET))
def test_every_single_symbol_substitution_is_caught(body: str, position: int, replacement: str):
    code = _code(body)
    if code[position] == replacement:
        return
    typo = code[:position] + replacement + code[position + 1 :]
    assert not codes.is_valid(typo)


@settings(max_examples=300)
@given(body=bodies, position=st.integers(0, 14))
def test_every_adjacent_swap_is_caught(body: str, position: int) -> None:
    code = _code(body)
    if code[position] == code[position + 1]:
        return
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    assert not codes.is_valid(swapped)


def test_exhaustively_for_one_code_every_substitution_and_swap() -> None:
    code = codes.generate()
    for i in range(16):
        for symbol in codes.ALPHABET:
            if symbol != code[i]:
                assert not codes.is_valid(code[:i] + symbol + code[i + 1 :])
    for i in range(15):
        if code[i] != code[i + 1]:
            assert not codes.is_valid(code[:i] + code[i + 1] + code[i] + code[i + 2 :])


@settings(max_examples=200)
@given(body=bodies, style=st.sampled_from(["lower", "spaces", "dashes", "confusable", "mixed"]))
def test_normalisation_accepts_how_people_type_codes(body: str, style: str) -> None:
    code = _code(body)
    typed = codes.format_code(code)
    if style == "lower":
        typed = typed.lower()
    elif style == "spaces":
        typed = " " + typed.replace("-", " ") + " "
    elif style == "dashes":
        typed = typed.replace("-", "--")
    elif style == "confusable":
        typed = typed.replace("0", "O").replace("1", "I")
    else:
        typed = typed.replace("1", "l").lower().replace("-", " - ")
    assert codes.normalise(typed) == code


@pytest.mark.parametrize("raw", ["", "ABC", "U" * 16, "!!!!-!!!!-!!!!-!!!!", "A" * 17])
def test_garbage_is_refused(raw: str) -> None:
    with pytest.raises(codes.InvalidCode):
        codes.normalise(raw)


def test_format_groups_of_four() -> None:
    assert codes.format_code("ABCDEFGHJKMNPQRS") == "ABCD-EFGH-JKMN-PQRS"
    assert codes.last4("ABCDEFGHJKMNPQRS") == "PQRS"


def test_digest_is_keyed_and_stable(settings) -> None:
    code = codes.generate()
    first = codes.digest(code)
    assert first == codes.digest(code)
    assert code not in first
    settings.GIFTCARD_CODE_KEY = "another-key-" + "z" * 30
    assert codes.digest(code) != first


def test_encryption_round_trips_and_fails_closed_with_another_key(settings) -> None:
    code = codes.generate()
    token = codes.encrypt(code)
    assert code not in token
    assert codes.decrypt(token) == code
    settings.GIFTCARD_CODE_KEY = "another-key-" + "z" * 30
    with pytest.raises(codes.InvalidCode):
        codes.decrypt(token)


def test_a_missing_key_refuses_to_work(settings) -> None:
    settings.GIFTCARD_CODE_KEY = ""
    with pytest.raises(RuntimeError, match="GIFTCARD_CODE_KEY"):
        codes.digest("X")


def test_codes_never_reach_a_log_line() -> None:
    from core.logging import RedactingFilter

    code = codes.format_code(codes.generate())
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "typed %s at till", (code,), None)
    RedactingFilter().filter(record)
    assert code not in record.getMessage()


def test_the_one_code_field_reads_a_code_as_typed_and_refuses_typos() -> None:
    from django import forms

    from giftcards.forms import GiftCardCodeField

    code = codes.generate()
    field = GiftCardCodeField()
    for typed in (code, code.lower(), code.replace("-", " "), code.replace("-", "")):
        assert field.clean(typed) == typed
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    for wrong in (typo, "ABCD", "ÄBCD-EFGH-JKMN-PQRS"):
        with pytest.raises(forms.ValidationError) as refused:
            field.clean(wrong)
        assert refused.value.code == "typo"
    with pytest.raises(forms.ValidationError) as empty:
        field.clean("  ")
    assert empty.value.code == "required"
    # what was typed is never written back into the page
    assert 'value="' not in field.widget.render("code", code)
