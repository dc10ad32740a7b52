"""Response helpers shared by pages that carry a secret in their address."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers


def private(response: HttpResponse) -> HttpResponse:
    """Never cached, and the address (with its token) never sent to another site.

    Same-origin rather than no-referrer: with no-referrer browsers send "Origin: null" on
    our own form posts and the CSRF check refuses them."""
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "same-origin"
    return response
