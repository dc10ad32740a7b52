"""JSON nested deeper than any request needs is a 400, never a RecursionError (500)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient

from core.parsers import MAX_JSON_DEPTH, JSONParser, json_depth_exceeds
from giftcards.models import GiftCard, Transaction
from giftcards.tests.helpers import issue
from merchants.models import IdempotencyRecord, Merchant


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def parse(text: str | bytes, encoding: str = "utf-8") -> Any:
    raw = text.encode() if isinstance(text, str) else text
    return JSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": encoding})


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def test_documents_up_to_the_limit_parse() -> None:
    assert depth(parse(nested(MAX_JSON_DEPTH))) == MAX_JSON_DEPTH
    assert parse('{"amount": 100, "metadata": {"a": [1, {"b": "[[[["}]}}')["amount"] == 100


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deeper_documents_are_refused_without_decoding(levels: int) -> None:
    with pytest.raises(ParseError, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        parse(nested(levels))
    with pytest.raises(ParseError):
        parse('{"a":' * levels + "1" + "}" * levels)


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        # Brackets inside strings are text, also after escaped quotes and backslashes.
        ('["' + "[" * 100 + '"]', False),
        ('["\\"' + "[" * 100 + '"]', False),
        ('["\\\\", ' + nested(100) + "]", True),
        ('{"k\\"[[[": "' + "{" * 100 + '"}', False),
        # Invalid text cannot hide its depth: an unterminated string hides nothing.
        ('"\\' + "[" * 100, True),
        ('"' + "[" * 100, True),
        ("[" * 100, True),
    ],
)
def test_depth_is_measured_on_the_structure_only(text: str, too_deep: bool) -> None:
    assert json_depth_exceeds(text, MAX_JSON_DEPTH) is too_deep


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab'), children, max_size=3)
    ),
    max_leaves=60,
)


@given(value=json_values, limit=st.integers(min_value=0, max_value=8))
def test_the_measure_agrees_with_the_parsed_depth(value: Any, limit: int) -> None:
    text = json.dumps(value)
    assert json_depth_exceeds(text, limit) is (depth(value) > limit)


def test_the_largest_accepted_body_is_measured_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(ParseError):
        parse("[" * (2 * 1024 * 1024))
    assert time.perf_counter() - started < 2


def test_other_malformed_bodies_stay_parse_errors() -> None:
    for text in ["{not json", "[NaN]", '{"a": 1', "\ufeff{}", "1" * 5000]:
        with pytest.raises(ParseError):
            parse(text)
    with pytest.raises(ParseError):
        parse(b"\xff\xfe{}")
    with pytest.raises(ParseError, match="Unsupported charset"):
        parse(b"{}", encoding="bz2_codec")


@pytest.mark.django_db
def test_a_deep_body_to_the_api_is_a_400_problem_and_changes_nothing(
    api_client: APIClient, merchant: Merchant
) -> None:
    card = issue(merchant, 1000).card
    before = (GiftCard.objects.count(), Transaction.objects.count())
    deep = '{"amount": 100, "metadata": ' + nested(1000) + "}"

    for path in ["/api/v1/gift-cards/", f"/api/v1/gift-cards/{card.public_id}/redeem/"]:
        response = api_client.generic(
            "POST", path, deep, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep-1"
        )
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "malformed_request"
        assert f"nested deeper than {MAX_JSON_DEPTH} levels" in body["detail"]

    assert (GiftCard.objects.count(), Transaction.objects.count()) == before
    assert not IdempotencyRecord.objects.exists()
    card.refresh_from_db()
    assert card.balance == 1000
