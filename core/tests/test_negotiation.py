"""The API's negotiation chooses what DRF's would, without parsing the common headers."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.negotiation import JsonFirstNegotiation

RENDERERS = [JSONRenderer(), BrowsableAPIRenderer()]


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        (None, ""),
        ("*/*", ""),
        ("application/json", ""),
        ("text/html", ""),
        ("application/json; indent=4", ""),
        ("text/html, application/json;q=0.9", ""),
        ("*/*", "?format=api"),
    ],
)
def test_it_chooses_what_drf_would(accept: str | None, query: str) -> None:
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    request = Request(APIRequestFactory().get(f"/api/v1/gift-cards/{query}", **headers))
    ours = JsonFirstNegotiation().select_renderer(request, RENDERERS)
    drf = DefaultContentNegotiation().select_renderer(request, RENDERERS)
    assert (type(ours[0]), ours[1]) == (type(drf[0]), drf[1])


@pytest.mark.django_db
def test_an_unacceptable_accept_header_is_still_a_406(api_client) -> None:
    response = api_client.get("/api/v1/gift-cards/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 406
