"""Merchant API keys: shown once, stored as a digest, refused when revoked or expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.errors import ApplicationError
from merchants.api.authentication import forget_keys
from merchants.keys import hash_secret, parse_key
from merchants.models import ApiKey, Merchant
from merchants.services import api_key_create

pytestmark = pytest.mark.django_db


def get_me(key: str, scheme: str = "Bearer"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client.get("/api/v1/merchant/")


def test_the_key_is_stored_only_as_a_digest(merchant: Merchant) -> None:
    created = api_key_create(merchant=merchant, name="till")
    row = ApiKey.objects.get()
    parsed = parse_key(created.plaintext)
    assert parsed is not None
    prefix, secret = parsed
    assert row.prefix == prefix
    assert row.secret_hash == hash_secret(secret)
    assert secret not in str(ApiKey.objects.values().get())


def test_a_valid_key_sees_its_own_merchant(api_client: APIClient, merchant: Merchant) -> None:
    response = api_client.get("/api/v1/merchant/")
    assert response.status_code == 200
    assert response.json() == {
        "id": merchant.public_id,
        "name": merchant.name,
        "slug": merchant.slug,
        "currency": "EUR",
        "status": "active",
    }


@pytest.mark.parametrize(
    "key",
    ["nonsense", "gk_live_abcdefghij_" + "x" * 39, "gk_live_abcdefghij_" + "x" * 40],
)
def test_malformed_or_unknown_keys_are_refused(merchant: Merchant, key: str) -> None:
    response = get_me(key)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_right_prefix_with_a_wrong_secret_is_refused(merchant: Merchant) -> None:
    key = api_key_create(merchant=merchant, name="till").plaintext
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert get_me(tampered).status_code == 401


def test_a_wrong_scheme_is_refused(api_key: str) -> None:
    response = get_me(api_key, scheme="Token")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_revoked_and_expired_keys_are_refused(merchant: Merchant) -> None:
    revoked = api_key_create(merchant=merchant, name="old")
    expired = api_key_create(
        merchant=merchant, name="temp", expires_at=timezone.now() - timedelta(minutes=1)
    )
    ApiKey.objects.filter(pk=revoked.api_key.pk).update(revoked_at=timezone.now())
    for created in (revoked, expired):
        response = get_me(created.plaintext)
        assert response.status_code == 401
        assert "revoked or has expired" in response.json()["detail"]


def test_keys_of_a_suspended_merchant_are_refused(merchant: Merchant, api_key: str) -> None:
    merchant.status = "suspended"
    merchant.save()
    assert get_me(api_key).json()["detail"] == "This merchant account is not active."


def test_last_used_is_recorded_at_most_once_a_minute(api_client: APIClient) -> None:
    api_client.get("/api/v1/merchant/")
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    api_client.get("/api/v1/merchant/")
    assert ApiKey.objects.get().last_used_at == first
    ApiKey.objects.update(last_used_at=first - timedelta(minutes=5))
    forget_keys()  # five minutes on, the worker's cached row has long expired
    api_client.get("/api/v1/merchant/")
    assert ApiKey.objects.get().last_used_at > first - timedelta(minutes=5)


def test_scopes_are_enforced(merchant: Merchant) -> None:
    from merchants.api.authentication import ApiClient

    key = api_key_create(merchant=merchant, name="read", scopes=["cards:read"]).api_key
    client = ApiClient(key)
    assert client.has_scope("cards:read")
    assert not client.has_scope("cards:redeem")
    with pytest.raises(ApplicationError, match="Unknown scope"):
        api_key_create(merchant=merchant, name="bad", scopes=["everything"])


def test_the_key_never_appears_in_repr(merchant: Merchant) -> None:
    created = api_key_create(merchant=merchant, name="till")
    assert created.plaintext not in str(created.api_key)
    assert created.api_key.display_prefix in str(created.api_key)
