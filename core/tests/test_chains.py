"""The REST API runs its own lean middleware chain; the pages keep every protection.

``core.middleware.ApiChainMiddleware`` sends ``/api/v1/`` through ``API_MIDDLEWARE``;
everything else, the API docs page included, goes through ``MIDDLEWARE`` as before.
"""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from core.tests.test_logging import capture_root_output
from giftcards.models import GiftCard, Transaction
from giftcards.services import giftcard_issue
from merchants.models import IdempotencyRecord

PAGE_ONLY = {
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
}
API_KEEPS = {
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.RequestBodyLimitMiddleware",
    "core.middleware.ApiAddressMiddleware",
    "core.middleware.ServiceUnavailableMiddleware",
}


def test_the_pages_chain_keeps_every_protection_and_the_api_chain_none_it_cannot_use() -> None:
    assert set(settings.MIDDLEWARE) >= PAGE_ONLY | API_KEEPS
    assert set(settings.API_MIDDLEWARE) >= API_KEEPS
    assert not PAGE_ONLY & set(settings.API_MIDDLEWARE)
    # The access line and the switch come first, for both chains.
    assert settings.MIDDLEWARE[:2] == [
        "core.middleware.RequestLogMiddleware",
        "core.middleware.ApiChainMiddleware",
    ]


@pytest.mark.django_db
def test_a_page_keeps_sessions_csrf_frames_and_csp(client: Client) -> None:
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in page
    assert "csrftoken" in page.cookies or any("csrf" in name for name in page.cookies)
    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/accounts/login/", {"login": "a@example.com", "password": "x"})
    assert refused.status_code == 403


@pytest.mark.django_db
def test_an_api_answer_carries_no_cookie_and_no_page_headers(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/gift-cards/")
    assert response.status_code == 200
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert "X-Frame-Options" not in response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_the_api_docs_page_is_a_page(client: Client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in page


@pytest.mark.django_db
def test_the_api_checks_the_host_header(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/gift-cards/", HTTP_HOST="evil.example")
    assert response.status_code == 400


@pytest.mark.django_db
def test_the_api_chain_keeps_its_refusals(api_client: APIClient, merchant) -> None:
    card = giftcard_issue(merchant=merchant, amount=1000, actor=None, idempotency_key="t:1").card
    before = (GiftCard.objects.get(pk=card.pk).balance, Transaction.objects.count())
    # Over the body limit: 413 problem+json, before the view reads it.
    big = api_client.generic(
        "POST",
        f"/api/v1/gift-cards/{card.public_id}/redeem/",
        "x",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
    )
    assert big.status_code == 413
    assert big["Content-Type"].startswith("application/problem+json")
    # Without the trailing slash: served as the same endpoint, not redirected.
    slashless = api_client.post(
        f"/api/v1/gift-cards/{card.public_id}/redeem",
        {"amount": 0},
        format="json",
    )
    assert slashless.status_code == 400
    assert (GiftCard.objects.get(pk=card.pk).balance, Transaction.objects.count()) == before
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_one_access_line_per_api_request_names_the_key_never_its_secret(
    api_client: APIClient, api_key: str, merchant
) -> None:
    stream, handler = capture_root_output()
    try:
        response = api_client.get("/api/v1/gift-cards/?limit=5", HTTP_X_REQUEST_ID="req-api-0001")
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.status_code == 200
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["event"] == "request_finished"
    assert line["request"] == "GET /api/v1/gift-cards/?limit=5"
    assert line["code"] == 200
    assert line["request_id"] == "req-api-0001"
    assert line["key_prefix"] == api_key.rsplit("_", 1)[0]
    assert line["merchant_id"] == merchant.pk
    assert api_key.rsplit("_", 1)[1] not in stream.getvalue()
    # Nothing of this request is left bound for the next line the worker writes.
    assert structlog.contextvars.get_contextvars() == {}


@pytest.mark.django_db
def test_the_access_line_names_a_signed_in_user_without_loading_one(owner_client, owner) -> None:
    stream, handler = capture_root_output()
    try:
        owner_client.get("/m/bluebird/")
        Client().get("/healthz")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    page, health = (line for line in lines if line["event"] == "request_finished")
    assert page["user_id"] == owner.pk
    assert "user_id" not in health


@pytest.mark.django_db
def test_a_failing_view_is_logged_as_an_error_with_its_status(settings, client: Client) -> None:
    from django.urls import path

    def broken(request):  # pragma: no cover - the body raises at once
        raise RuntimeError("boom")

    settings.ROOT_URLCONF = type("Urls", (), {"urlpatterns": [path("broken/", broken)]})
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    client.raise_request_exception = False
    stream, handler = capture_root_output()
    try:
        response = client.get("/broken/")
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.status_code == 500
    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    access = [line for line in lines if line["event"] == "request_finished"]
    assert [(line["code"], line["level"]) for line in access] == [(500, "error")]


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_problem_json_404(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"
