"""Every POST accepts an Idempotency-Key: same key + same body replays, nothing twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from giftcards.models import GiftCard, Transaction
from giftcards.tests.helpers import issue
from merchants.idempotency import REPLAY_HEADER, purge_expired
from merchants.models import IdempotencyRecord, Merchant

pytestmark = pytest.mark.django_db


def redeem(client: APIClient, card: GiftCard, amount: int, key: str | None = "key-1"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/gift-cards/{card.public_id}/redeem/",
        {"amount": amount},
        format="json",
        headers=headers,
    )


def test_a_retry_replays_the_first_response_and_spends_once(
    api_client: APIClient, merchant: Merchant
) -> None:
    card = issue(merchant, 1000).card
    first = redeem(api_client, card, 400)
    second = redeem(api_client, card, 400)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second[REPLAY_HEADER] == "true"
    assert REPLAY_HEADER not in first
    card.refresh_from_db()
    assert card.balance == 600
    assert Transaction.objects.filter(kind="redeem").count() == 1
    assert Transaction.objects.get(kind="redeem").idempotency_key == "api:key-1"


def test_the_same_key_with_another_body_is_a_conflict(api_client: APIClient, merchant: Merchant):
    card = issue(merchant, 1000).card
    redeem(api_client, card, 400)
    reused = redeem(api_client, card, 500)
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    card.refresh_from_db()
    assert card.balance == 600


def test_refusals_are_replayed_too(api_client: APIClient, merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    first = redeem(api_client, card, 5000)
    assert first.status_code == 422
    second = redeem(api_client, card, 5000)
    assert (second.status_code, second.json()) == (422, first.json())
    assert second["Content-Type"] == "application/problem+json"
    assert second[REPLAY_HEADER] == "true"


def test_keys_are_per_merchant(
    api_client: APIClient, other_api_client: APIClient, merchant: Merchant, other_merchant
) -> None:
    mine = issue(merchant, 1000).card
    theirs = issue(other_merchant, 1000).card
    assert redeem(api_client, mine, 100).status_code == 201
    assert redeem(other_api_client, theirs, 100).status_code == 201
    assert IdempotencyRecord.objects.count() == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\there"])
def test_malformed_keys_are_refused(api_client: APIClient, merchant: Merchant, key: str) -> None:
    card = issue(merchant, 1000).card
    response = redeem(api_client, card, 100, key=key)
    if key == "":
        assert response.status_code == 201  # an empty header means no key
        return
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    card.refresh_from_db()
    assert card.balance == 1000


def test_without_a_key_each_post_acts(api_client: APIClient, merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    redeem(api_client, card, 100, key=None)
    redeem(api_client, card, 100, key=None)
    card.refresh_from_db()
    assert card.balance == 800
    assert not IdempotencyRecord.objects.exists()


def test_issue_is_idempotent_and_returns_the_same_code(api_client: APIClient) -> None:
    body = {"amount": 1000, "currency": "EUR"}
    first = api_client.post(
        "/api/v1/gift-cards/", body, format="json", headers={"Idempotency-Key": "issue-1"}
    )
    second = api_client.post(
        "/api/v1/gift-cards/", body, format="json", headers={"Idempotency-Key": "issue-1"}
    )
    assert first.json() == second.json()
    assert GiftCard.objects.count() == 1
    stored = IdempotencyRecord.objects.get().response_body
    assert first.json()["code"] not in str(stored)
    assert first.json()["code"].replace("-", "") not in str(stored)


def test_records_are_kept_48_hours_then_purged(api_client: APIClient, merchant: Merchant):
    card = issue(merchant, 1000).card
    redeem(api_client, card, 100)
    assert purge_expired() == 0
    assert purge_expired(now=timezone.now() + timedelta(hours=49)) == 1
    assert not IdempotencyRecord.objects.exists()
