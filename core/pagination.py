"""Cursor pagination for every API list: ``?limit=`` (1 to 100) and an opaque cursor;
the response is ``{"results": [...], "next": url | null, "previous": url | null}``."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from core.serializers import QueryIntegerField, QueryParameters, StrictCharField

MAX_LIMIT = 100
LIMIT_MESSAGE = f"Use a whole number from 1 to {MAX_LIMIT}."


class PageParameters(QueryParameters):
    """The query parameters of every list; a list with filters adds its own fields."""

    limit = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        error_messages={
            "invalid": LIMIT_MESSAGE,
            "min_value": LIMIT_MESSAGE,
            "max_value": LIMIT_MESSAGE,
        },
        help_text=f"How many results per page: 1 to {MAX_LIMIT}, default 25.",
    )
    cursor = StrictCharField(
        required=False,
        max_length=500,
        help_text="Where the page starts: copy it from the `next` or `previous` URL of "
        "the page before. Opaque; do not build one.",
    )


class LimitCursorPagination(CursorPagination):
    page_size = 25
    page_size_query_param = "limit"
    max_page_size = MAX_LIMIT
    ordering = ("-created_at", "-id")

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError({"limit": [LIMIT_MESSAGE]})
        return limit

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except Exception as exc:  # DRF raises NotFound; a bad cursor is bad input
            raise ValidationError({"cursor": ["This cursor is not valid."]}) from exc

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()}
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
            },
        }
