"""SQL statements per API call: a redemption costs at most 8, whatever the path.

The budget comes from the performance issue (docs/performance.md): every statement is
a round trip to PostgreSQL, and those sent while the card's row lock is held set how
many redemptions one hot card can take per second.

Every statement Django sends counts, each being a round trip: in production that
includes the BEGIN and COMMIT of the request's transaction (Django logs both); inside
a test's own transaction they become a SAVEPOINT and its RELEASE, so the count is the
same either way. Savepoints the code opens itself count too.

Each redemption is measured on a key that has not been used for a minute (the
``last_used_at`` write happens then) and on one just used: both must fit.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from giftcards.models import GiftCard, Transaction, TransactionKind
from giftcards.services import IssuedCard
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import IdempotencyRecord, Merchant

pytestmark = pytest.mark.django_db

REDEEM_BUDGET = 8
READ_BUDGET = 3  # key lookup, its once-a-minute last_used_at write, the card
CACHED_READ_BUDGET = 1  # at most the key lookup: the card comes from the cache


@pytest.fixture
def card(merchant: Merchant) -> IssuedCard:
    return IssuedCardFactory(merchant=merchant, amount=10_000)


def _redeem_by_id(client: APIClient, card: IssuedCard, key: str, amount: int = 100) -> Any:
    return client.post(
        f"/api/v1/gift-cards/{card.card.public_id}/redeem/",
        {"amount": amount, "currency": "EUR", "reference": "till 4"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def _redeem_by_code(client: APIClient, card: IssuedCard, key: str, amount: int = 100) -> Any:
    return client.post(
        "/api/v1/gift-cards/redeem/",
        {"code": card.formatted_code, "amount": amount, "currency": "EUR"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def _redemptions(card: IssuedCard) -> int:
    return Transaction.objects.filter(gift_card=card.card, kind=TransactionKind.REDEEM).count()


def test_redeem_by_id_first_call_of_the_key(
    api_client: APIClient, card: IssuedCard, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(REDEEM_BUDGET):
        response = _redeem_by_id(api_client, card, "q-1")
    assert response.status_code == 201, response.content
    assert response.json()["gift_card"]["balance"] == 9_900


def test_redeem_by_id_steady_state(
    api_client: APIClient, card: IssuedCard, django_assert_max_num_queries: Any
) -> None:
    assert _redeem_by_id(api_client, card, "q-1").status_code == 201
    with django_assert_max_num_queries(REDEEM_BUDGET) as queries:
        response = _redeem_by_id(api_client, card, "q-2")
    assert response.status_code == 201, response.content
    assert response.json()["gift_card"]["balance"] == 9_800
    # The worker remembers the key's row (merchants.api.authentication): a redemption
    # on a warm worker is the transaction and nothing else.
    assert not [q for q in queries.captured_queries if "merchants_apikey" in (q["sql"] or "")]
    assert len(queries.captured_queries) <= 6


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the combined write is PostgreSQL's")
@pytest.mark.parametrize("redeem", [_redeem_by_id, _redeem_by_code])
def test_a_redemption_stores_its_answer_in_its_write_statement(
    api_client: APIClient, card: IssuedCard, redeem: Any
) -> None:
    """On PostgreSQL the balance, the ledger row and the stored answer are one statement:
    with the BEGIN, the lock and the COMMIT, four round trips on a warm worker. The
    answer stored is the answer sent, and a retry gets it again."""
    assert redeem(api_client, card, "w-1").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        first = redeem(api_client, card, "w-2")
    assert first.status_code == 201, first.content
    assert len(queries.captured_queries) == 4, [q["sql"] for q in queries.captured_queries]
    record = IdempotencyRecord.objects.get(key="w-2")
    assert (record.response_status, record.response_body) == (201, first.json())
    again = redeem(api_client, card, "w-2")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert _redemptions(card) == 2


def test_redeem_by_code_first_call_of_the_key(
    api_client: APIClient, card: IssuedCard, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(REDEEM_BUDGET):
        response = _redeem_by_code(api_client, card, "q-1")
    assert response.status_code == 201, response.content
    assert response.json()["gift_card"]["balance"] == 9_900


def test_redeem_by_code_steady_state(
    api_client: APIClient, card: IssuedCard, django_assert_max_num_queries: Any
) -> None:
    assert _redeem_by_code(api_client, card, "q-1").status_code == 201
    with django_assert_max_num_queries(REDEEM_BUDGET):
        response = _redeem_by_code(api_client, card, "q-2")
    assert response.status_code == 201, response.content
    assert response.json()["gift_card"]["balance"] == 9_800


def test_get_card(
    api_client: APIClient, card: IssuedCard, django_assert_max_num_queries: Any
) -> None:
    url = f"/api/v1/gift-cards/{card.card.public_id}/"
    with django_assert_max_num_queries(READ_BUDGET):
        first = api_client.get(url)
    assert first.status_code == 200
    assert first.json()["balance"] == 10_000
    with django_assert_max_num_queries(CACHED_READ_BUDGET):
        again = api_client.get(url)
    assert again.status_code == 200
    assert again.json() == first.json()


@pytest.mark.parametrize("redeem", [_redeem_by_id, _redeem_by_code], ids=["by_id", "by_code"])
def test_replay_writes_no_second_ledger_row(
    api_client: APIClient, card: IssuedCard, redeem: Any
) -> None:
    first = redeem(api_client, card, "same-key")
    assert first.status_code == 201, first.content

    replay = redeem(api_client, card, "same-key")

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert _redemptions(card) == 1
    assert IdempotencyRecord.objects.filter(key="same-key").count() == 1
    card.card.refresh_from_db()
    assert card.card.balance == 9_900
    assert GiftCard.objects.get(pk=card.card.pk).balance == 9_900
