"""Strict API input: declared fields only, values of the declared type only."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict
from rest_framework import serializers

from core.serializers import (
    REPEATED_PARAMETER,
    UNKNOWN_FIELD,
    UNKNOWN_PARAMETER,
    UNUSABLE_TEXT,
    QueryIntegerField,
    QueryParameters,
    StrictCharField,
    StrictDateTimeField,
    StrictEmailField,
    StrictInputSerializer,
)


class Body(StrictInputSerializer):
    name = StrictCharField(max_length=10)
    email = StrictEmailField(required=False)
    when = StrictDateTimeField(required=False)


class Query(QueryParameters):
    status = serializers.ChoiceField(choices=["active", "void"], required=False)
    limit = QueryIntegerField(required=False, min_value=1, max_value=100)


def errors(data: Any) -> dict[str, Any]:
    body = Body(data=data)
    assert not body.is_valid()
    return dict(body.errors)


def test_declared_fields_of_the_declared_type_are_accepted() -> None:
    body = Body(data={"name": "Ana", "email": "ana@example.com", "when": "2030-12-31T23:59:59Z"})
    assert body.is_valid(), body.errors
    assert body.validated_data["when"].isoformat() == "2030-12-31T23:59:59+00:00"


def test_an_unknown_key_is_named_with_the_other_errors() -> None:
    assert errors({"name": "Ana", "nmae": "Ana"}) == {"nmae": [UNKNOWN_FIELD]}
    assert set(errors({"name": 5, "colour": "red"})) == {"name", "colour"}


@pytest.mark.parametrize("value", [0, 1.5, True, ["Ana"], {"first": "Ana"}])
def test_a_string_field_refuses_other_types_rather_than_coercing_them(value: Any) -> None:
    assert set(errors({"name": value})) == {"name"}


def test_an_email_field_refuses_a_number() -> None:
    assert set(errors({"name": "Ana", "email": 0})) == {"email"}


@pytest.mark.parametrize(
    "value",
    [
        "2030-12-31T23:59:59+01:00",
        "2030-12-31T23:59:59.5Z",
        "2030-12-31t23:59:59.123456-05:30",
    ],
)
def test_a_date_time_with_its_offset_is_accepted(value: str) -> None:
    assert Body(data={"name": "Ana", "when": value}).is_valid()


@pytest.mark.parametrize(
    "value",
    [
        "2030-12-31",
        "2030-12-31T23:59:59",
        "2030-12-31 23:59:59Z",
        "2030-12-31T23:59Z",
        "2030-02-30T10:00:00Z",
        "2030-12-31T24:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        1924991999,
    ],
)
def test_anything_else_is_refused_as_a_date_time(value: Any) -> None:
    assert set(errors({"name": "Ana", "when": value})) == {"when"}


def test_query_parameters_are_read_as_given() -> None:
    assert Query.parse(QueryDict("status=void&limit=5")) == {"status": "void", "limit": 5}
    assert Query.parse(QueryDict("")) == {}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("status=", "status", None),
        ("limit=", "limit", None),
        ("limit=5.0", "limit", None),
        ("limit=%205", "limit", None),
        ("limit=-1", "limit", None),
        ("statuss=void", "statuss", UNKNOWN_PARAMETER),
        ("status=void&status=active", "status", REPEATED_PARAMETER),
    ],
)
def test_query_parameters_that_are_empty_unknown_or_repeated_are_refused(
    query: str, field: str, message: str | None
) -> None:
    with pytest.raises(serializers.ValidationError) as refused:
        Query.parse(QueryDict(query))
    detail = refused.value.detail
    assert isinstance(detail, dict)
    assert list(detail) == [field]
    if message is not None:
        assert detail[field] == [message]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Ana\x00"}, "name"),
        ({"name": "\ud800"}, "name"),
        ({"name": "Ana", "\ud800": 1}, "\ufffd"),
        ({"name": "Ana", "\x00": 1}, "\ufffd"),
        ({"name": "Ana", "extra": {"key\x00": "value"}}, "extra"),
        ({"name": "Ana", "extra": ["fine", "\udfff"]}, "extra"),
    ],
)
def test_text_no_database_or_response_can_hold_is_refused_by_field(
    data: dict[str, Any], field: str
) -> None:
    assert errors(data) == {field: [UNUSABLE_TEXT]}


def test_a_valid_astral_character_is_not_mistaken_for_a_surrogate() -> None:
    assert Body(data={"name": "Ana \U0001f600"}).is_valid()
