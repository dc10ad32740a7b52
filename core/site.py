"""The site's own base URL, for links that leave a page (emails, SMS, canonical and Open
Graph URLs, the sitemap, payment return addresses).

In production it is ``SITE_URL`` (the start-up guard checks it against ``ALLOWED_HOSTS``).
In the zero-setup profile (``SITE_URL_FROM_REQUEST``) a request's own address wins, so a
page served on another port or host name links (and loads images) from where it is
actually served; work without a request (a job) uses ``SITE_URL``, which ``make run``
sets to the address it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from urllib.parse import urljoin

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_served: ContextVar[str | None] = ContextVar("served_base_url", default=None)


def site_url() -> str:
    """The base URL, without a trailing slash."""
    served = _served.get() if getattr(settings, "SITE_URL_FROM_REQUEST", False) else None
    return (served or str(settings.SITE_URL)).rstrip("/")


def absolute(path_or_url: str) -> str:
    """``site_url()`` + path; a URL that is already absolute (object storage) stays."""
    return urljoin(site_url() + "/", path_or_url)


class SiteUrlMiddleware:
    """Remembers, for this request, the address it was served on (the host is one of
    ``ALLOWED_HOSTS``: Django checks it before this runs). Only in effect with
    ``SITE_URL_FROM_REQUEST``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not getattr(settings, "SITE_URL_FROM_REQUEST", False):
            return self.get_response(request)
        token = _served.set(request.build_absolute_uri("/"))
        try:
            return self.get_response(request)
        finally:
            _served.reset(token)
