"""Request-level middleware: request ids and the request body size limit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.net import client_ip

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class RequestIdMiddleware:
    """Accept a well-formed ``X-Request-ID`` from upstream or mint one, expose it on the
    request, bind it into every log line and echo it on the response.

    An upstream id that is too long or carries odd characters is replaced rather than
    trusted, so nobody can inject text into our logs through this header.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # django-structlog reads the header from META; hand it the clean value.
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.request_id = request_id  # type: ignore[attr-defined]
        structlog.contextvars.bind_contextvars(request_id=request_id, ip=client_ip(request))
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        # django-structlog already logged this response with its request id; Django's
        # own "Not Found: ..." line would come after the context is cleared, without it.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response


class RequestBodyLimitMiddleware:
    """Refuse bodies larger than ``MAX_REQUEST_BODY_BYTES`` with 413 before reading them.

    Django's own limits cover form fields and in-memory uploads; this one caps the whole
    body, including JSON and file uploads, for every route.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit: int = settings.MAX_REQUEST_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            from core.views import payload_too_large

            return payload_too_large(request, limit=limit)
        return self.get_response(request)
