"""OpenAPI pieces shared by every API view: the problem+json error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

PROBLEM_MEDIA_TYPE = "application/problem+json"

_DESCRIPTIONS = {
    400: "Invalid input (`validation_error`, `invalid_amount`, ...); `errors` lists fields.",
    401: "Missing or invalid API key.",
    403: "The key lacks a required scope.",
    404: "Not found, or owned by another merchant (`card_not_found`, ...).",
    405: "Method not allowed.",
    409: "`idempotency_key_reused`: the key was used with another request.",
    415: "Send `application/json`.",
    422: "Refused by the rules (`insufficient_funds`, `card_not_active`, ...).",
    429: "Too many attempts; see `Retry-After`.",
}


class FieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    status = serializers.IntegerField()
    title = serializers.CharField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable, machine-readable reason.")
    instance = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)
    # Declared fields are collected by the metaclass; this does not shadow .errors.
    errors = FieldErrorSerializer(many=True, required=False)  # type: ignore[assignment]


def problem_responses(*statuses: int) -> dict[Any, OpenApiResponse]:
    """``responses={201: X, **problem_responses(400, 404)}``."""
    statuses = tuple(sorted({401, 429, *statuses}))
    return {
        (status, PROBLEM_MEDIA_TYPE): OpenApiResponse(
            response=ProblemSerializer, description=_DESCRIPTIONS.get(status, "Error")
        )
        for status in statuses
    }
