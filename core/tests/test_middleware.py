from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from giftcards.models import GiftCard
from merchants.models import Merchant

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


# --- One body limit for the API, 413 for bodies between the limits ------------------------

MIB = 1024 * 1024


@pytest.mark.parametrize("size", [3 * MIB, 9 * MIB])
def test_api_bodies_over_the_in_memory_limit_get_413_not_500(
    api_client: APIClient, merchant: Merchant, size: int
) -> None:
    """Between DATA_UPLOAD_MAX_MEMORY_SIZE (2 MiB) and the multipart limit (10 MiB) an API
    body used to reach the view and fail there as a 500 RequestDataTooBig."""
    body = b'{"amount": 100, "currency": "EUR", "reference": "' + b"x" * size + b'"}'
    response = api_client.generic(
        "POST", "/api/v1/gift-cards/", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "payload_too_large"
    assert problem["max_bytes"] == 2 * MIB
    assert problem["detail"] == "The request body is larger than the limit of 2 MB."
    assert not GiftCard.objects.exists()


def test_api_bodies_within_the_limit_are_served(api_client: APIClient, merchant: Merchant):
    padding = " " * (2 * MIB - 100)
    body = '{"amount": 100, "currency": "EUR"}' + padding
    response = api_client.generic(
        "POST", "/api/v1/gift-cards/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content[:300]


def test_the_api_limit_holds_whatever_the_content_type(api_client: APIClient) -> None:
    response = api_client.generic(
        "POST",
        "/api/v1/gift-cards/",
        b"x" * (3 * MIB),
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_large_form_post_to_a_page_gets_the_413_page(client: Client) -> None:
    response = client.post(
        "/accounts/login/",
        data="login=a%40b.test&password=" + "x" * (3 * MIB),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert b"Request too large" in response.content
    assert b"larger than the limit of 2 MB" in response.content


def test_multipart_uploads_to_pages_keep_their_larger_limit(client: Client) -> None:
    upload = SimpleUploadedFile("cards.csv", b"amount\n" + b"1000\n" * (MIB // 2))
    response = client.post("/accounts/login/", {"login": "a@b.test", "file": upload})
    assert response.status_code != 413


def test_a_chunked_body_without_a_length_is_refused(api_client: APIClient) -> None:
    """Django reads a WSGI body only up to Content-Length: a chunked one would be taken
    for empty. It is refused with 411 instead, before any limit could be skipped."""
    response = api_client.generic(
        "POST",
        "/api/v1/gift-cards/",
        b'{"amount": 100}',
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "length_required"
    assert not GiftCard.objects.exists()


@pytest.mark.parametrize("length", ["ten", "-5", "1e3", "٣"])
def test_a_content_length_that_is_not_a_number_is_a_400(api_client: APIClient, length: str) -> None:
    response = api_client.generic(
        "POST",
        "/api/v1/gift-cards/",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=length,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


# --- The API never redirects -----------------------------------------------------------------


def test_a_post_without_the_trailing_slash_is_served_not_redirected(
    api_client: APIClient, merchant: Merchant
) -> None:
    """APPEND_SLASH answered 301; clients re-sent the POST as a GET and listed cards."""
    response = api_client.post(
        "/api/v1/gift-cards", {"amount": 700, "currency": "EUR"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert "Location" not in response
    card = GiftCard.objects.get()
    assert card.balance == 700

    redeemed = api_client.post(
        f"/api/v1/gift-cards/{card.public_id}/redeem", {"amount": 200}, format="json"
    )
    assert redeemed.status_code == 201
    listed = api_client.get("/api/v1/gift-cards")
    assert listed.status_code == 200
    assert [c["balance"] for c in listed.json()["results"]] == [500]


def test_with_and_without_the_slash_one_key_is_one_operation(
    api_client: APIClient, merchant: Merchant
) -> None:
    body = {"amount": 700, "currency": "EUR"}
    first = api_client.post("/api/v1/gift-cards/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api_client.post("/api/v1/gift-cards", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert GiftCard.objects.count() == 1


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/gift-cards/x/y/z", "/api/v1"])
def test_unknown_api_paths_are_problem_404s_with_or_without_slash(
    api_client: APIClient, path: str
) -> None:
    for method in ("get", "post"):
        response = getattr(api_client, method)(path)
        assert response.status_code == 404
        assert "Location" not in response
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"


def test_pages_keep_their_slash_redirect(client: Client) -> None:
    response = client.get("/accounts/login")
    assert response.status_code == 301
    assert response["Location"] == "/accounts/login/"


def test_the_api_over_plain_http_is_refused_not_redirected(
    api_client: APIClient, merchant: Merchant, settings
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    plain = api_client.post(
        "/api/v1/gift-cards/", {"amount": 700, "currency": "EUR"}, format="json"
    )
    assert plain.status_code == 403
    assert "Location" not in plain
    assert plain.json()["code"] == "https_required"
    assert not GiftCard.objects.exists()

    secure = api_client.post(
        "/api/v1/gift-cards/",
        {"amount": 700, "currency": "EUR"},
        format="json",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert secure.status_code == 201
    assert Client().get("/accounts/login/").status_code == 301
