"""Strict input for the REST API: what the OpenAPI document declares is what is accepted.

DRF is lenient by default: it drops keys a serializer does not declare, turns the number 0
into the string "0" for a ``CharField``, and reads an empty query parameter as absent.
An integrator who misspells a field, or sends a number where a string is declared, would
then get a success that silently ignored part of the request. Here:

- ``StrictInputSerializer`` refuses keys it does not declare, each one named in ``errors``;
- ``StrictCharField`` (and the email and date-time fields) refuse values of another type;
- ``QueryParameters`` reads the query string as given: each parameter once, known
  parameters only, an empty value is a value (and usually a wrong one);
- text that no database column or UTF-8 response can hold (a NUL character, or a
  surrogate left unpaired by a JSON escape) is refused anywhere in a body, keys included,
  before any field could store it or quote it back in an error.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from django.http import QueryDict
from rest_framework import serializers

UNUSABLE_TEXT = (
    "Contains a NUL character or an unpaired surrogate, which cannot be stored: "
    "send valid Unicode text."
)
UNKNOWN_FIELD = "Unknown field: this request does not take it. Remove it, or check its spelling."
UNKNOWN_PARAMETER = "Unknown query parameter. Remove it, or check its spelling."
REPEATED_PARAMETER = "Give this parameter once."

# RFC 3339 (the OpenAPI ``date-time`` format): a date, a "T", a time with seconds and an
# offset. Python reads more (a date alone, no offset); those are refused, not guessed at.
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


# NUL, and UTF-16 surrogates: JSON decoding joins a valid pair into one character, so any
# surrogate left in a string is unpaired.
_UNUSABLE = re.compile("[\x00\ud800-\udfff]")


def _unusable(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_UNUSABLE.search(value))
    if isinstance(value, Mapping):
        return any(_unusable(key) or _unusable(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_unusable(item) for item in value)
    return False


def _printable(name: str) -> str:
    """A key as it can be quoted back: unusable characters become U+FFFD."""
    return _UNUSABLE.sub("\ufffd", name)


class StrictCharField(serializers.CharField):
    """A string, and only a string: ``0``, ``true`` or ``[]`` are refused, not coerced."""

    default_error_messages = {"invalid": "Send a string (text in double quotes)."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictEmailField(serializers.EmailField):
    default_error_messages = {"invalid": "Send a valid email address as a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date and time with its offset, e.g. ``2030-12-31T23:59:59Z``."""

    default_error_messages = {
        "invalid": "Send an ISO 8601 date and time with its time zone, "
        "e.g. 2030-12-31T23:59:59Z or 2030-12-31T23:59:59+01:00.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str) or not _DATE_TIME.match(value):
            self.fail("invalid")
        parsed: datetime = super().to_internal_value(value)
        return parsed


_NOT_PLAIN = (
    serializers.BaseSerializer,
    serializers.ListField,
    serializers.DictField,
    serializers.HStoreField,
    serializers.HiddenField,
    serializers.SerializerMethodField,
)


def _plain(field: Any) -> bool:
    return not isinstance(field, _NOT_PLAIN) and not hasattr(field, "child")


class StrictInputSerializer(serializers.Serializer[Any]):
    """A request body that refuses keys it does not declare, each named in ``errors``
    alongside any other field errors. The OpenAPI document says so too
    (``additionalProperties: false``, see ``core.api_schema``)."""

    unknown_message = UNKNOWN_FIELD
    _field_templates: ClassVar[dict[str, Any]]  # per class, set on first use

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        """The declared fields, copied from a per-class template.

        DRF deep-copies every declared field for each request, which re-runs each
        field's ``__init__`` and builds its validators again: most of what reading a
        small body costs. A plain field holds no state of its own until it is bound, so
        a shallow copy of an unbound template is as good; a field with children or that
        reads its serializer's context (lists, dicts, nested serializers, hidden fields)
        is deep-copied as DRF does."""
        templates: dict[str, Any] | None = type(self).__dict__.get("_field_templates")
        if templates is None:
            templates = super().get_fields()
            type(self)._field_templates = templates
        return {
            name: copy.copy(field) if _plain(field) else copy.deepcopy(field)
            for name, field in templates.items()
        }

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unusable = {
                _printable(str(key)): [UNUSABLE_TEXT]
                for key, value in data.items()
                if _unusable(key) or _unusable(value)
            }
            if unusable:
                raise serializers.ValidationError(unusable)
            unknown = {str(key): [self.unknown_message] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class QueryParameters(StrictInputSerializer):
    """Query parameters, validated like a body: ``QueryParameters.parse(request.query_params)``.

    Each parameter may appear once, and an empty value is passed on as the empty string, so
    ``?status=`` is refused by a choice field rather than read as "no filter"."""

    unknown_message = UNKNOWN_PARAMETER

    @classmethod
    def parse(cls, query: QueryDict) -> dict[str, Any]:
        repeated = {name: [REPEATED_PARAMETER] for name, values in query.lists() if len(values) > 1}
        if repeated:
            raise serializers.ValidationError(repeated)
        parameters = cls(data=dict(query.items()))
        parameters.is_valid(raise_exception=True)
        return dict(parameters.validated_data)


class QueryIntegerField(serializers.IntegerField):
    """A whole number written in digits only (DRF also reads ``5.0`` and `` 5``)."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not data.isascii() or not data.isdigit():
            self.fail("invalid")
        return int(super().to_internal_value(data))
