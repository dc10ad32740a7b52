"""Site-wide pages: home, health and readiness, error pages."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import outage
from core.api import UNAVAILABLE, is_api_request, payload_too_large_detail, problem_response
from core.health import readiness


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Resolved per request: the hashed static name exists only after collectstatic.
    return HttpResponseRedirect(static("favicon.svg"))


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no dependency on purpose."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, cache and broker reachable; 503 naming what is not."""
    ok, checks = readiness()
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


def _error_page(
    request: HttpRequest, *, status: int, code: str, title: str, detail: str, **extra: Any
) -> HttpResponse:
    if is_api_request(request):
        return problem_response(
            request, status_code=status, code=code, title=title, detail=detail, **extra
        )
    context: dict[str, Any] = {"status": status, "title": title, "detail": detail}
    return render(request, "core/error.html", context, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        status=400,
        code="bad_request",
        title="Bad request",
        detail="The request could not be understood.",
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        status=403,
        code="permission_denied",
        title="Not allowed",
        detail="You do not have permission to do that.",
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        status=404,
        code="not_found",
        title="Page not found",
        detail="There is nothing at this address.",
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, so it is still at hand here: a
    # database or cache that went away while a middleware used it is a 503, not a 500.
    if outage.is_outage(sys.exc_info()[1]):
        return service_unavailable(request)
    if is_api_request(request):
        return problem_response(
            request,
            status_code=500,
            code="server_error",
            title="Internal server error",
            detail="Something went wrong on our side; it has been logged.",
        )
    # No context processors here: the failure may be in one of them.
    template = loader.get_template("core/500.html")
    return HttpResponse(template.render({}), status=500)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503 while the database, cache or broker cannot be reached: problem+json for the
    API, a page for people; both say when to try again."""
    response: HttpResponse
    if is_api_request(request):
        response = problem_response(request, status_code=503, **UNAVAILABLE)
    else:
        # Rendered without the request: every context processor may need the database.
        template = loader.get_template("core/503.html")
        context = {"platform_name": settings.PLATFORM_NAME}
        response = HttpResponse(template.render(context), status=503)
    response["Retry-After"] = str(outage.RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response


def payload_too_large(request: HttpRequest, *, limit: int) -> HttpResponse:
    return _error_page(
        request,
        status=413,
        code="payload_too_large",
        title="Request too large",
        detail=payload_too_large_detail(limit),
        max_bytes=limit,
    )


def length_required(request: HttpRequest) -> HttpResponse:
    return _error_page(
        request,
        status=411,
        code="length_required",
        title="Length required",
        detail="A request body needs a Content-Length header; chunked bodies are not accepted.",
    )


def bad_content_length(request: HttpRequest) -> HttpResponse:
    return _error_page(
        request,
        status=400,
        code="bad_request",
        title="Bad request",
        detail="The Content-Length header is not a number of bytes.",
    )


def https_required(request: HttpRequest) -> HttpResponse:
    """The API over plain HTTP, where HTTPS is required: refused rather than redirected,
    since a client following a redirect sends a POST again as a GET."""
    return problem_response(
        request,
        status_code=403,
        code="https_required",
        title="HTTPS required",
        detail="The API answers over HTTPS only. Send the request to the https:// address; "
        "any API key it carried has travelled in clear text and should be rotated.",
    )
