"""Request-level middleware: request ids and the access line, the API's own lean chain,
body limits, the API's addresses, and 503s while a backing service is away."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path
from django.utils.functional import SimpleLazyObject, empty
from django.utils.module_loading import import_string

from core import outage
from core.api import is_api_request
from core.net import client_ip

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

access_log = structlog.get_logger("core.access")
_LEVELS = {4: logging.WARNING, 5: logging.ERROR}


class RequestLogMiddleware:
    """The request's id and its one access line.

    Accepts a well-formed ``X-Request-ID`` from upstream or mints one, exposes it on the
    request, binds it (and the client address) into every log line written while the
    request runs, echoes it on the response, and writes one ``request_finished`` line
    per request: method and path (redacted like every line), status, duration, and who
    asked (the signed-in user's id, or the API key's public prefix) when the view
    already knew. It never loads a user or a session just to log them.

    An upstream id that is too long or carries odd characters is replaced rather than
    trusted, so nobody can inject text into our logs through this header. The context
    is cleared before and after, so nothing of one request leaks into the next line a
    worker writes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.request_id = request_id  # type: ignore[attr-defined]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, ip=client_ip(request))
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            # This line is the request's record; Django's own "Not Found: ..." line
            # would repeat it.
            response._has_been_logged = True  # type: ignore[attr-defined]
            status = response.status_code
            level = _LEVELS.get(status // 100, logging.INFO)
            if access_log.is_enabled_for(level):
                access_log.log(
                    level,
                    "request_finished",
                    request=f"{request.method} {request.get_full_path()}",
                    code=status,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                    **_principal(request),
                )
            return response
        finally:
            structlog.contextvars.clear_contextvars()


def _principal(request: HttpRequest) -> dict[str, object]:
    """Who made ``request``, as far as the view found out: never evaluates a lazy user."""
    user = request.__dict__.get("user")
    if user is None:
        return {}
    if isinstance(user, SimpleLazyObject):
        user = user.__dict__.get("_wrapped", empty)
        if user is empty:
            return {}
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return {"key_prefix": api_key.display_prefix, "merchant_id": api_key.merchant_id}
    if getattr(user, "is_authenticated", False):
        return {"user_id": user.pk}
    return {}


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


class _Chain(BaseHandler):
    """A handler serving through its own middleware list: URL resolution, the view, and
    the view, exception and template-response hooks of that list only."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self._paths = paths
        self.load_middleware()

    def load_middleware(self, is_async: bool = False) -> None:
        # Django's own loading, for a list other than settings.MIDDLEWARE (sync only:
        # the chain runs inside the sync middleware that owns it).
        self._view_middleware: list[Callable[..., HttpResponse | None]] = []
        self._template_response_middleware: list[Callable[..., HttpResponse]] = []
        self._exception_middleware: list[Callable[..., HttpResponse | None]] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(self._paths):
            try:
                middleware = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


class ApiChainMiddleware:
    """Requests for the REST API (``API_CHAIN_PREFIX``) go through ``API_MIDDLEWARE``
    instead of the rest of ``MIDDLEWARE``.

    An API request authenticates with its Bearer key on every call: it has no session,
    cookie, CSRF token, signed-in user, second factor, flash message or htmx header, so
    the middleware for those only cost it time. Everything else stays on the pages' own
    chain, which is ``MIDDLEWARE`` unchanged. The host is checked against
    ``ALLOWED_HOSTS`` here, as ``CommonMiddleware`` does for the pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefix: str = settings.API_CHAIN_PREFIX
        self.api = _Chain(list(settings.API_MIDDLEWARE))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.prefix):
            return self.get_response(request)
        request.get_host()  # DisallowedHost -> 400, as on every page
        return self.api._middleware_chain(request)  # type: ignore[return-value]
