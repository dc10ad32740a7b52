"""The API key row is cached per process for API_KEY_CACHE_SECONDS: a saved change is
forgotten at once where it was made, and everywhere within the bound."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from merchants.api import authentication
from merchants.models import ApiKey, MerchantStatus
from merchants.services import api_key_create


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def created(merchant):
    return api_key_create(merchant=merchant, name="till")


@pytest.mark.django_db
def test_a_second_request_reads_no_key_row(created) -> None:
    client = _client(created.plaintext)
    assert client.get("/api/v1/gift-cards/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/gift-cards/").status_code == 200
    assert not [q for q in queries.captured_queries if "merchants_apikey" in q["sql"]]


@pytest.mark.django_db
def test_a_wrong_secret_is_refused_even_when_the_row_is_cached(created) -> None:
    assert _client(created.plaintext).get("/api/v1/gift-cards/").status_code == 200
    prefix_part = created.plaintext.rsplit("_", 1)[0]
    forged = f"{prefix_part}_{'A' * 40}"
    assert _client(forged).get("/api/v1/gift-cards/").status_code == 401


@pytest.mark.django_db
def test_revoking_through_the_orm_is_effective_at_once_in_this_process(created) -> None:
    client = _client(created.plaintext)
    assert client.get("/api/v1/gift-cards/").status_code == 200
    key = ApiKey.objects.get(pk=created.api_key.pk)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    assert client.get("/api/v1/gift-cards/").status_code == 401


@pytest.mark.django_db
def test_suspending_the_merchant_is_effective_at_once_in_this_process(created, merchant) -> None:
    client = _client(created.plaintext)
    assert client.get("/api/v1/gift-cards/").status_code == 200
    merchant.status = MerchantStatus.SUSPENDED
    merchant.save(update_fields=["status"])
    assert client.get("/api/v1/gift-cards/").status_code == 401


@pytest.mark.django_db
def test_another_process_stops_answering_a_revoked_key_within_the_bound(
    created, settings, monkeypatch
) -> None:
    """Another worker did not see the save: only the clock ends its cached row."""
    settings.API_KEY_CACHE_SECONDS = 5
    client = _client(created.plaintext)
    assert client.get("/api/v1/gift-cards/").status_code == 200
    # Revoked by another process: no signal reaches this one.
    ApiKey.objects.filter(pk=created.api_key.pk).update(revoked_at=timezone.now())
    assert client.get("/api/v1/gift-cards/").status_code == 200  # within the bound
    start = time.monotonic()
    monkeypatch.setattr(authentication.time, "monotonic", lambda: start + 5.01)
    assert client.get("/api/v1/gift-cards/").status_code == 401


@pytest.mark.django_db
def test_with_no_cache_every_request_reads_the_row(created, settings) -> None:
    settings.API_KEY_CACHE_SECONDS = 0
    client = _client(created.plaintext)
    assert client.get("/api/v1/gift-cards/").status_code == 200
    ApiKey.objects.filter(pk=created.api_key.pk).update(revoked_at=timezone.now())
    assert client.get("/api/v1/gift-cards/").status_code == 401
