"""The API key factory makes keys as production does: the stored hash is the real one,
so the plaintext it hands the test opens the API, with the scopes asked for."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from merchants.models import Merchant
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_an_api_key_opens_the_api_of_its_merchant(merchant: Merchant) -> None:
    created = ApiKeyFactory(merchant=merchant, scopes=["cards:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.plaintext}")

    assert client.get("/api/v1/gift-cards/").status_code == 200
    assert client.post("/api/v1/gift-cards/", {}, format="json").status_code == 403
    assert created.api_key.merchant == merchant


def test_an_api_key_cannot_be_built_without_its_hash(merchant: Merchant) -> None:
    with pytest.raises(TypeError, match="api_key_create"):
        ApiKeyFactory.build(merchant=merchant)
