from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_request_id_is_minted_when_none_is_sent(client: Client) -> None:
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize("bad", ["short", "x" * 200, "abc def ghi jkl", "id\nInjected: yes"])
def test_a_malformed_upstream_request_id_is_replaced(client: Client, bad: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_security_headers_and_csp_on_pages(client: Client) -> None:
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_large_html_responses_are_gzipped(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"


def test_oversized_bodies_are_refused_before_reading(client: Client, settings) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 1024
    response = client.post(
        "/accounts/login/", data="x" * 2048, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert b"Request too large" in response.content


def test_oversized_api_bodies_get_problem_json(client: Client, settings) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 1024
    response = client.post(
        "/api/v1/merchant/", data="{}" + " " * 2048, content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"


def test_cors_headers_only_for_the_api(client: Client, settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example.com"]
    api = client.options(
        "/api/v1/merchant/",
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    page = client.get("/", HTTP_ORIGIN="https://shop.example.com")
    assert api["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "Access-Control-Allow-Origin" not in page


def test_cors_refuses_unknown_origins(client: Client, settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example.com"]
    response = client.get("/api/v1/merchant/", HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response


def test_static_assets_are_shipped_not_fetched_from_a_cdn(client: Client) -> None:
    page = client.get("/").content.decode()
    assert "/static/vendor/htmx.min.js" in page
    assert "https://" not in page.split("<body")[0]
