"""RFC 9457 problem+json for every API failure, from one exception handler."""

from __future__ import annotations

import math
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import outage
from core.errors import ApplicationError

logger = structlog.get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    """Whether ``request`` is for the REST API (answered in problem+json, never HTML)."""
    return request.path_info.startswith(API_PREFIX)


def size_text(size: int) -> str:
    """A byte count as people read it: "2 MB", "512 KB", "1000 bytes"."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def payload_too_large_detail(limit: int) -> str:
    return f"The request body is larger than the limit of {size_text(limit)}."


# The problem for a database, cache or broker that cannot be reached (core.outage).
UNAVAILABLE = {
    "code": "service_unavailable",
    "title": "Service unavailable",
    "detail": "A service we depend on is not answering just now. Retry in a few seconds; "
    "a POST retried with the same Idempotency-Key is never applied twice.",
}


_DRF_CODES = {
    exceptions.ParseError: ("malformed_request", "Malformed request"),
    exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication required"),
    exceptions.PermissionDenied: ("permission_denied", "Permission denied"),
    exceptions.NotFound: ("not_found", "Not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    exceptions.Throttled: ("rate_limited", "Too many requests"),
    exceptions.ValidationError: ("validation_error", "Invalid request"),
}


def problem(
    *,
    status_code: int,
    code: str,
    title: str,
    detail: str,
    request: HttpRequest | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"about:blank#{code}" if code else "about:blank",
        "status": status_code,
        "title": title,
        "detail": detail,
        "code": code,
    }
    if request is not None:
        body["instance"] = request.path
        request_id = getattr(request, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return body


# Field-level validation codes promoted to the top-level problem ``code``.
DOMAIN_VALIDATION_CODES = {"invalid_amount", "invalid_expiry", "invalid_code"}


def _codes(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_codes(v) for v in codes.values())) if codes else set()
    if isinstance(codes, list):
        return set().union(*(_codes(v) for v in codes)) if codes else set()
    return {str(codes)}


def _flatten_validation(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                field = f"{prefix}[{key}]"
            else:
                field = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                field = prefix or "non_field_errors"
            errors.extend(_flatten_validation(value, field))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                errors.extend(_flatten_validation(value, f"{prefix}[{index}]"))
            else:
                errors.append({"field": prefix or "non_field_errors", "message": str(value)})
    else:
        errors.append({"field": prefix or "non_field_errors", "message": str(detail)})
    return errors


def _request_refusal(exc: Exception, request: Any) -> Response | None:
    """Failures of the request itself, or of what serves it, that DRF does not know:
    each a problem with its own status, never a 500."""
    if outage.is_outage(exc):
        outage.log_outage(exc)
        body = problem(status_code=503, request=request, **UNAVAILABLE)
        refusal = Response(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
        refusal["Retry-After"] = str(outage.RETRY_AFTER_SECONDS)
        return refusal
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = problem(
            status_code=413,
            code="payload_too_large",
            title="Request too large",
            detail=payload_too_large_detail(limit),
            request=request,
            max_bytes=limit,
        )
        return Response(body, status=413, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, SuspiciousOperation | UnreadablePostError):
        logger.info("api_bad_request", error=type(exc).__name__)
        body = problem(
            status_code=400,
            code="bad_request",
            title="Bad request",
            detail="The request could not be understood.",
            request=request,
        )
        return Response(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
    return None


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    refused = _request_refusal(exc, request)
    if refused is not None:
        return refused
    if isinstance(exc, ApplicationError):
        body = problem(
            status_code=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            request=request,
            **exc.extra,
        )
        refusal = Response(body, status=exc.status, content_type=PROBLEM_CONTENT_TYPE)
        if "retry_after" in exc.extra:
            refusal["Retry-After"] = str(exc.extra["retry_after"])
        return refusal

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    handled = drf_exception_handler(exc, context)
    if handled is None:
        logger.exception("api_unhandled_error", exc_info=exc)
        body = problem(
            status_code=500,
            code="server_error",
            title="Internal server error",
            detail="Something went wrong on our side; it has been logged.",
            request=request,
        )
        return Response(body, status=500, content_type=PROBLEM_CONTENT_TYPE)

    response: Response = handled
    if not isinstance(exc, exceptions.APIException):  # pragma: no cover - DRF handles only these
        return response
    api_exc: exceptions.APIException = exc
    code, title = "error", "Request failed"
    for klass, (known_code, known_title) in _DRF_CODES.items():
        if isinstance(api_exc, klass):
            code, title = known_code, known_title
            break
    extra: dict[str, Any] = {}
    if isinstance(api_exc, exceptions.ValidationError):
        extra["errors"] = _flatten_validation(api_exc.detail)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in extra["errors"])
        # When every error shares one domain code (e.g. invalid_amount), it is the code.
        shared = _codes(api_exc.get_codes())
        if len(shared) == 1 and (only := shared.pop()) in DOMAIN_VALIDATION_CODES:
            code = only
    else:
        detail = str(api_exc.detail)
        # A view may raise with its own code, e.g. AuthenticationFailed(code="key_revoked").
        raised_code = getattr(api_exc.detail, "code", None)
        if raised_code and raised_code != api_exc.default_code:
            code = str(raised_code)
    body = problem(
        status_code=response.status_code,
        code=code,
        title=title,
        detail=detail,
        request=request,
        **extra,
    )
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    wait = getattr(api_exc, "wait", None)
    if isinstance(api_exc, exceptions.Throttled) and wait is not None:
        response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def problem_response(
    request: HttpRequest,
    *,
    status_code: int,
    code: str,
    title: str,
    detail: str,
    **extra: Any,
) -> JsonResponse:
    """problem+json outside DRF (middleware, Django's error handlers for ``/api/`` paths)."""
    return JsonResponse(
        problem(
            status_code=status_code,
            code=code,
            title=title,
            detail=detail,
            request=request,
            **extra,
        ),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


__all__ = ["problem_exception_handler", "problem_response", "status"]
