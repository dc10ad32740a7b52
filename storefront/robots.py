"""``/robots.txt``: storefronts are for crawling; dashboards, the API and accounts are not."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from core.site import site_url

DISALLOWED = ("/admin/", "/m/", "/api/", "/account/", "/accounts/")


def robots_lines() -> list[str]:
    sitemap = site_url() + "/sitemap.xml"
    return [
        "User-agent: *",
        "Allow: /s/",
        *(f"Disallow: {path}" for path in DISALLOWED),
        "",
        f"Sitemap: {sitemap}",
    ]


@require_safe
@cache_control(public=True, max_age=60 * 60)
def robots_txt(request: HttpRequest) -> HttpResponse:
    return HttpResponse("\n".join(robots_lines()) + "\n", content_type="text/plain; charset=utf-8")
