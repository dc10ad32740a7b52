"""The OpenAPI document is the contract: every answer an operation can give is in it.

``api_operation`` wraps drf-spectacular's ``extend_schema`` so that each operation
documents, besides its success, every problem+json answer it can give: the ones every
operation shares (401, 413, 429; 400 and 415 where a body or query is read) and the ones
the view names (``Refusal``), each status with the codes it carries, what each means, and
an example. Request bodies built on ``StrictInputSerializer`` are documented with
``additionalProperties: false``, as they are enforced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from core.errors import ApplicationError

PROBLEM_MEDIA_TYPE = "application/problem+json"

F = TypeVar("F", bound=Callable[..., Any])

# What a status means whatever the code; the codes each operation can send follow it.
_STATUS_MEANINGS = {
    400: "The request is not valid and nothing was done. `errors` lists each field "
    "(`field`, `message`); fix them and send it again.",
    401: "No API key was sent, or it is not a usable key. Send `Authorization: Bearer <key>`.",
    403: "The API key is valid but lacks a scope this operation needs.",
    404: "Nothing with that id or code exists for this merchant. Another merchant's "
    "objects answer 404 too, never 403.",
    409: "The request conflicts with an earlier one.",
    413: "The request body is larger than the platform accepts; nothing was read.",
    415: "The body is not JSON. Send `Content-Type: application/json`.",
    422: "The request is well formed, but the rules refuse it. Nothing changed.",
    429: "Too many requests. Wait the number of seconds in `Retry-After` before trying again.",
    503: "The service cannot do this right now; nothing was done.",
}


class FieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(help_text="The field or query parameter, e.g. `amount`.")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details, with a machine-readable ``code``."""

    type = serializers.CharField(help_text="`about:blank#<code>`.")
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    title = serializers.CharField(help_text="A short, human summary of the code.")
    detail = serializers.CharField(help_text="What went wrong this time, for a person.")
    code = serializers.CharField(help_text="Stable, machine-readable reason: branch on this.")
    instance = serializers.CharField(required=False, help_text="The path that was called.")
    request_id = serializers.CharField(
        required=False, help_text="Quote it when asking for support."
    )
    # Declared fields are collected by the metaclass; this does not shadow .errors.
    errors = FieldErrorSerializer(  # type: ignore[assignment]
        many=True, required=False, help_text="With 400: every field that was refused."
    )


@dataclass(frozen=True)
class Refusal:
    """One way an operation can say no: a status, a stable code, when it happens, and an
    example of the problem body (``detail`` and any ``extra`` fields)."""

    status: int
    code: str
    title: str
    when: str
    detail: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, error: type[ApplicationError], *, when: str, detail: str, **extra: Any) -> Refusal:
        """The refusal an ``ApplicationError`` class answers with (its status, code, title)."""
        return cls(error.status, error.code, error.title, when, detail, extra)

    def body(self) -> dict[str, Any]:
        return {
            "type": f"about:blank#{self.code}",
            "status": self.status,
            "title": self.title,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


VALIDATION_ERROR = Refusal(
    400,
    "validation_error",
    "Invalid request",
    "a field is missing, of the wrong type or out of range, or is not one this operation "
    "takes (unknown fields are refused, never ignored)",
    "amount: This field is required.; reloadable: Unknown field: this request does not take "
    "it. Remove it, or check its spelling.",
    {
        "errors": [
            {"field": "amount", "message": "This field is required."},
            {
                "field": "reloadable",
                "message": "Unknown field: this request does not take it. Remove it, or "
                "check its spelling.",
            },
        ]
    },
)
QUERY_VALIDATION_ERROR = Refusal(
    400,
    "validation_error",
    "Invalid request",
    "a query parameter is unknown, repeated, empty or out of range",
    'status: "lost" is not a valid choice.',
    {"errors": [{"field": "status", "message": '"lost" is not a valid choice.'}]},
)
MALFORMED_REQUEST = Refusal(
    400,
    "malformed_request",
    "Malformed request",
    "the body is not valid JSON, or nests arrays and objects more than 32 levels deep",
    "JSON parse error - Expecting value: line 1 column 1 (char 0)",
)
LENGTH_REQUIRED = Refusal(
    411,
    "length_required",
    "Length required",
    "the body was sent without a `Content-Length` header (chunked bodies are not accepted)",
    "A request body needs a Content-Length header; chunked bodies are not accepted.",
)
HTTPS_REQUIRED = Refusal(
    403,
    "https_required",
    "HTTPS required",
    "the request came over plain HTTP (the API never redirects; send it to https://)",
    "The API answers over HTTPS only. Send the request to the https:// address.",
)
SERVICE_UNAVAILABLE = Refusal(
    503,
    "service_unavailable",
    "Service unavailable",
    "a database, cache or queue the platform depends on is not answering just now; retry "
    "after `Retry-After` seconds (a POST with the same `Idempotency-Key` is applied once)",
    "A service we depend on is not answering just now. Retry in a few seconds; a POST "
    "retried with the same Idempotency-Key is never applied twice.",
)
NOT_AUTHENTICATED = Refusal(
    401,
    "not_authenticated",
    "Authentication required",
    "no `Authorization` header was sent",
    "Authentication credentials were not provided.",
)
AUTHENTICATION_FAILED = Refusal(
    401,
    "authentication_failed",
    "Authentication failed",
    "the key is unknown, revoked or expired, or its merchant is not active",
    "Invalid API key.",
)
SCOPE_MISSING = Refusal(
    403,
    "permission_denied",
    "Permission denied",
    "the key lacks a scope this operation needs (`detail` names it)",
    "This API key lacks the scope(s): cards:write.",
)
PAYLOAD_TOO_LARGE = Refusal(
    413,
    "payload_too_large",
    "Request too large",
    "the body is over the platform's limit",
    "The request body is larger than the limit of 2 MB.",
)
UNSUPPORTED_MEDIA_TYPE = Refusal(
    415,
    "unsupported_media_type",
    "Unsupported media type",
    "the body was sent as something other than `application/json`",
    'Unsupported media type "text/plain" in request.',
)
RATE_LIMITED = Refusal(
    429,
    "rate_limited",
    "Too many requests",
    "this key sent more requests than its limit allows",
    "Request was throttled. Expected available in 7 seconds.",
)

RETRY_AFTER = "Retry-After"

STRICT_BODY = (
    "Fields not listed here are refused with 400 `validation_error`, never ignored, and so "
    "is a value of another type than the one shown (a number where a string is expected)."
)

_SUCCESS = {200: "Done.", 201: "Done: created."}


def _describe(status: int, refusals: Sequence[Refusal]) -> str:
    lines = [_STATUS_MEANINGS.get(status, "The request was refused."), ""]
    lines += [f"- `{refusal.code}`: {refusal.when}." for refusal in refusals]
    return "\n".join(lines)


def problem_responses(
    refusals: Sequence[Refusal], *, problem: type[serializers.Serializer[Any]] = ProblemSerializer
) -> dict[Any, OpenApiResponse]:
    """``responses={201: X, **problem_responses([...])}``: one problem+json response per
    status, listing its codes, with an example of each."""
    by_status: dict[int, dict[str, Refusal]] = {}
    for refusal in refusals:
        by_status.setdefault(refusal.status, {})[refusal.code] = refusal
    return {
        (status, PROBLEM_MEDIA_TYPE): OpenApiResponse(
            response=problem,
            description=_describe(status, list(codes.values())),
            examples=[
                OpenApiExample(refusal.code, value=refusal.body(), response_only=True)
                for refusal in codes.values()
            ],
        )
        for status, codes in sorted(by_status.items())
    }


def api_operation(
    *,
    operation_id: str,
    tag: str,
    summary: str,
    description: str,
    responses: Mapping[int, Any],
    request: type[serializers.Serializer[Any]] | None = None,
    query: type[serializers.Serializer[Any]] | None = None,
    parameters: Sequence[OpenApiParameter] = (),
    refusals: Sequence[Refusal] = (),
    examples: Sequence[OpenApiExample] = (),
    problem: type[serializers.Serializer[Any]] = ProblemSerializer,
) -> Callable[[F], F]:
    """``extend_schema`` for an API operation, with every problem answer documented.

    ``request`` is the JSON body and ``query`` the query parameters (both validated, so
    400 is documented with them); ``refusals`` are the operation's own answers (404, 409,
    422, ...), listed after the shared ones and replacing a shared one of the same code.
    """
    shared = [
        NOT_AUTHENTICATED,
        AUTHENTICATION_FAILED,
        SCOPE_MISSING,
        HTTPS_REQUIRED,
        PAYLOAD_TOO_LARGE,
    ]
    if query is not None:
        shared.append(QUERY_VALIDATION_ERROR)
    if request is not None:
        shared += [VALIDATION_ERROR, MALFORMED_REQUEST, LENGTH_REQUIRED, UNSUPPORTED_MEDIA_TYPE]
    shared += [RATE_LIMITED, SERVICE_UNAVAILABLE]
    merged: dict[tuple[int, str], Refusal] = {}
    for refusal in [*shared, *refusals]:
        merged[(refusal.status, refusal.code)] = refusal
    waits = sorted({status for status, _ in merged if status in (429, 503)})
    retry_after = OpenApiParameter(
        RETRY_AFTER,
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=waits,
        description="Seconds to wait before trying again.",
    )
    return extend_schema(
        operation_id=operation_id,
        tags=[tag],
        summary=summary,
        description=description,
        request=request,
        parameters=[*([query] if query is not None else []), *parameters, retry_after],
        responses={
            **{
                status: response
                if isinstance(response, OpenApiResponse)
                else OpenApiResponse(response, description=_SUCCESS.get(status, "Success."))
                for status, response in responses.items()
            },
            **problem_responses(list(merged.values()), problem=problem),
        },
        examples=list(examples),
    )


class StrictInputSchema(OpenApiSerializerExtension):
    """Request bodies that refuse unknown fields say so: ``additionalProperties: false``."""

    target_class = "core.serializers.StrictInputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        # Not the base class's docstring (written for developers): what integrators need.
        own = vars(type(self.target)).get("__doc__")
        schema["description"] = (own.strip() + "\n\n" if own else "") + STRICT_BODY
        return schema
