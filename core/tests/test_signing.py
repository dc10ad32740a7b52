"""Signed link tokens: one helper, the formats of links already sent unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from core.signing import TokenExpired, TokenInvalid, TokenSigner

TOKENS = TokenSigner(salt="tests.purpose", max_age=timedelta(days=1))


def test_a_token_gives_back_its_value() -> None:
    token = TOKENS.sign("gc_123:4")
    assert token.startswith("gc_123:4:")
    assert TOKENS.unsign(token) == "gc_123:4"


def test_a_detached_token_does_not_contain_its_value() -> None:
    token = TOKENS.sign_detached("ord_123")
    assert "ord_123" not in token
    assert TOKENS.check_detached("ord_123", token)
    assert not TOKENS.check_detached("ord_124", token)
    assert not TOKENS.check_detached("ord_123", "")


@pytest.mark.parametrize("make", ["other_salt", "altered", "garbage"])
def test_forged_altered_or_foreign_tokens_are_refused(make: str) -> None:
    token = {
        "other_salt": TokenSigner(salt="tests.other").sign("gc_123"),
        "altered": TOKENS.sign("gc_123").replace("gc_123", "gc_124"),
        "garbage": "not-a-token",
    }[make]
    with pytest.raises(TokenInvalid) as refused:
        TOKENS.unsign(token)
    assert not isinstance(refused.value, TokenExpired)


def test_a_genuine_token_expires_after_its_purposes_age_or_the_callers() -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = TOKENS.sign("gc_123")
        detached = TOKENS.sign_detached("ord_1")
        packed = TOKENS.dumps({"i": 1})
    with time_machine.travel(start + timedelta(days=1, minutes=1), tick=False):
        with pytest.raises(TokenExpired):
            TOKENS.unsign(token)
        assert not TOKENS.check_detached("ord_1", detached)
        with pytest.raises(TokenExpired):
            TOKENS.loads(packed)
        assert TOKENS.unsign(token, max_age=timedelta(days=2)) == "gc_123"


def test_an_object_token_round_trips_and_refuses_tampering() -> None:
    token = TOKENS.dumps({"i": "inv_1", "n": "abc"})
    assert TOKENS.loads(token) == {"i": "inv_1", "n": "abc"}
    with pytest.raises(TokenInvalid):
        TOKENS.loads(token[:-2] + "xx")


def test_tokens_made_before_the_helper_existed_still_open_their_links() -> None:
    # The shapes the card links, order status links, test payments and invitations
    # were made in, straight from Django: links already in people's inboxes.
    plain = signing.TimestampSigner(salt="tests.purpose").sign("gc_123:0")
    assert TOKENS.unsign(plain) == "gc_123:0"
    full = signing.TimestampSigner(salt="tests.purpose").sign("ord_9")
    assert TOKENS.check_detached("ord_9", full[len("ord_9") + 1 :])
    packed = signing.dumps({"i": "inv_1", "n": "abc"}, salt="tests.purpose")
    assert TOKENS.loads(packed) == {"i": "inv_1", "n": "abc"}
    # and the other way round: what the helper makes, Django reads as before
    assert signing.TimestampSigner(salt="tests.purpose").unsign(TOKENS.sign("x")) == "x"
