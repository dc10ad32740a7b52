"""Request-level middleware: request ids, body limits, the API's addresses, and 503s
while a backing service is away."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path

from core import outage
from core.api import is_api_request
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


def body_limit(request: HttpRequest) -> int:
    """The largest body ``request`` may carry.

    A body Django reads whole into memory (JSON, a urlencoded form) may not exceed
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``: above it Django refuses to read it anyway, as an
    exception in the middle of a view. That is every body of the API, whatever its type:
    the API has one limit. Only a multipart upload to a page (a product image, a bulk
    CSV), which Django streams to disk, may be larger, up to ``MAX_REQUEST_BODY_BYTES``;
    its form fields still count against the in-memory limit and each form checks its
    own files.
    """
    whole: int = settings.MAX_REQUEST_BODY_BYTES
    in_memory: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if request.content_type == "multipart/form-data" and not is_api_request(request):
        return whole
    return whole if in_memory is None else min(whole, in_memory)


class RequestBodyLimitMiddleware:
    """Refuse a body over its limit (``body_limit``) with 413 before anything reads it:
    problem+json for the API, a page for people.

    The declared ``Content-Length`` is all there is to check: Django reads a WSGI body
    only up to it. A chunked body without one would be read as empty, and a request
    taken for empty is not what its sender meant, so it is refused with 411. A length
    that is not a number is a 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isascii() and declared.isdigit():
            limit = body_limit(request)
            if int(declared) <= limit:
                return self.get_response(request)
            from core.views import payload_too_large

            return payload_too_large(request, limit=limit)
        if declared:
            from core.views import bad_content_length

            return bad_content_length(request)
        if "HTTP_TRANSFER_ENCODING" in request.META:
            from core.views import length_required

            return length_required(request)
        return self.get_response(request)


class ApiAddressMiddleware:
    """The API answers where it is asked and never redirects.

    Django's ``APPEND_SLASH`` answers a path without its trailing slash with a 301, and
    ``SECURE_SSL_REDIRECT`` answers plain HTTP with a 301 to HTTPS; clients follow both
    by sending a POST again as a GET, so a card issue became a card list. Here a
    slashless API path that exists with the slash is served as that path (the same
    view, the same answer, the same idempotency fingerprint), and the API over plain
    HTTP, where HTTPS is required, is refused with 403 problem+json. The API's paths
    are exempt from the HTTPS redirect (``SECURE_REDIRECT_EXEMPT``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            from core.views import https_required

            return https_required(request)
        path = request.path_info
        if not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
                request.path_info = f"{path}/"
                request.path = f"{request.path}/"
        return self.get_response(request)


class ServiceUnavailableMiddleware:
    """A view that fails because the database, cache or broker cannot be reached answers
    503 with ``Retry-After`` (problem+json for the API, a page for people), logged as one
    line. DRF views answer the same from ``core.api``; failures inside other middleware
    reach ``core.views.server_error``, which answers the same too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not outage.is_outage(exception):
            return None
        outage.log_outage(exception)
        from core.views import service_unavailable

        return service_unavailable(request)
