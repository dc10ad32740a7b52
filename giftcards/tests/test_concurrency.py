"""Money is never created or lost under concurrency (GC-3), on real PostgreSQL row locks.

Each request runs in its own thread with its own database connection, through the whole
API stack (key, idempotency, lock, ledger).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from giftcards.models import GiftCard, Transaction
from giftcards.tests.helpers import issue, ledger_sum
from merchants.idempotency import REPLAY_HEADER
from merchants.models import IdempotencyRecord, Merchant
from tests.concurrency import api_client, in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_fifty_parallel_redemptions_never_overspend(merchant: Merchant, api_key: str) -> None:
    card = issue(merchant, 1000).card
    path = f"/api/v1/gift-cards/{card.public_id}/redeem/"

    def redeem(index: int) -> tuple[int, str]:
        response = api_client(api_key).post(path, {"amount": 100}, format="json")
        body = response.json()
        return response.status_code, body.get("code", "ok")

    outcomes = Counter(in_threads(50, redeem))
    assert outcomes == {(201, "ok"): 10, (422, "insufficient_funds"): 40}
    card.refresh_from_db()
    assert card.balance == 0
    assert card.status == "redeemed"
    assert ledger_sum(card) == 0
    assert Transaction.objects.filter(gift_card=card, kind="redeem").count() == 10


def test_parallel_redemptions_by_code_on_distinct_and_shared_cards(
    merchant: Merchant, api_key: str
) -> None:
    shared = issue(merchant, 500)
    own = [issue(merchant, 100) for _ in range(10)]

    def redeem(index: int) -> int:
        code = own[index].code if index < 10 else shared.code
        response = api_client(api_key).post(
            "/api/v1/gift-cards/redeem/", {"code": code, "amount": 100}, format="json"
        )
        return response.status_code

    statuses = Counter(in_threads(20, redeem))
    assert statuses == {201: 15, 422: 5}
    for issued in [shared, *own]:
        issued.card.refresh_from_db()
        assert issued.card.balance == 0
        assert ledger_sum(issued.card) == 0


def test_two_concurrent_requests_with_one_key_make_one_transaction(
    merchant: Merchant, api_key: str
) -> None:
    card = issue(merchant, 1000).card
    path = f"/api/v1/gift-cards/{card.public_id}/redeem/"
    responses: list[Any] = []

    def redeem(index: int) -> None:
        response = api_client(api_key).post(
            path, {"amount": 300}, format="json", headers={"Idempotency-Key": "order-77"}
        )
        responses.append(response)

    # Hold the card's row lock so both requests are in flight at once, then let go.
    with transaction.atomic():
        GiftCard.objects.select_for_update().get(pk=card.pk)
        threads = [threading.Thread(target=lambda i=i: _run_closing(redeem, i)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
    for thread in threads:
        thread.join(timeout=30)

    assert len(responses) == 2
    first, second = responses
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert sorted(r.headers.get(REPLAY_HEADER, "") for r in responses) == ["", "true"]
    card.refresh_from_db()
    assert card.balance == 700
    assert Transaction.objects.filter(gift_card=card, kind="redeem").count() == 1
    assert IdempotencyRecord.objects.filter(key="order-77").count() == 1


def _run_closing(work: Callable[[int], None], index: int) -> None:
    try:
        work(index)
    finally:
        connections.close_all()


def test_concurrent_refunds_never_exceed_the_redemption(merchant: Merchant, api_key: str):
    from giftcards import services

    card = issue(merchant, 1000).card
    spend = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=500)

    def refund(index: int) -> int:
        response = api_client(api_key).post(
            f"/api/v1/transactions/{spend.public_id}/refund/", {"amount": 100}, format="json"
        )
        return response.status_code

    statuses = Counter(in_threads(12, refund))
    assert statuses == {201: 5, 422: 7}
    card.refresh_from_db()
    assert card.balance == 1000
    assert ledger_sum(card) == 1000
