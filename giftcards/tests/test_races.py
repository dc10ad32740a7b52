"""A racing double submit at each money entry point makes one ledger row and gives both
callers the first result, never a 500 (PostgreSQL row locks and unique indexes).

The two submits start while the card's row is held, so both are in flight at once and
queue on the card's lock, as a double click or a retry after a timeout does. The till's
race is in ``test_till.py``, bulk jobs' in ``test_bulk.py``, order fulfilment's and
refunds' in ``orders/tests``, wallet claims' in ``wallet/tests``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import User
from giftcards import services
from giftcards.models import GiftCard, Transaction
from giftcards.tests.helpers import issue, snapshot
from merchants.idempotency import REPLAY_HEADER
from merchants.models import Membership, Merchant, Role
from tests.concurrency import api_client, in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def together(work: Callable[[int], Any], *, holding: GiftCard | None = None) -> list[Any]:
    """``work(0)`` and ``work(1)`` at once, each on its own connection; with ``holding``,
    both start while that card's row is locked and go on when it is let go."""
    if holding is None:
        return in_threads(2, work)
    results: list[Any] = [None, None]

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException as exc:  # the test shows it
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    with transaction.atomic():
        GiftCard.objects.select_for_update().get(pk=holding.pk)
        for thread in threads:
            thread.start()
        time.sleep(0.5)
    for thread in threads:
        thread.join(timeout=30)
    return results


def posted(path: str, body: dict[str, Any], api_key: str, holding: GiftCard | None) -> list[Any]:
    def post(_: int) -> Any:
        return api_client(api_key).post(
            path, body, format="json", headers={"Idempotency-Key": "double-1"}
        )

    return together(post, holding=holding)


def assert_one_answer(responses: list[Any], status: int) -> dict[str, Any]:
    assert [r.status_code for r in responses] == [status, status]
    first, second = (r.json() for r in responses)
    assert first == second
    assert sorted(r.headers.get(REPLAY_HEADER, "") for r in responses) == ["", "true"]
    return first


# --- The API -------------------------------------------------------------------------------


def test_api_redeem_by_code_twice_at_once_spends_once(merchant: Merchant, api_key: str) -> None:
    issued = issue(merchant, 1000)
    body = {"code": issued.formatted_code, "amount": 300}
    responses = posted("/api/v1/gift-cards/redeem/", body, api_key, issued.card)
    assert assert_one_answer(responses, 201)["gift_card"]["balance"] == 700
    assert snapshot(issued.card) == (700, "active", 2)


def test_api_reload_twice_at_once_adds_once(merchant: Merchant, api_key: str) -> None:
    card = issue(merchant, 1000).card
    path = f"/api/v1/gift-cards/{card.public_id}/reload/"
    responses = posted(path, {"amount": 500}, api_key, card)
    assert assert_one_answer(responses, 201)["transaction"]["kind"] == "reload"
    assert snapshot(card) == (1500, "active", 2)


def test_api_void_twice_at_once_voids_once(merchant: Merchant, api_key: str) -> None:
    card = issue(merchant, 1000).card
    path = f"/api/v1/gift-cards/{card.public_id}/void/"
    responses = posted(path, {"reason": "stolen"}, api_key, card)
    assert_one_answer(responses, 200)
    assert snapshot(card) == (0, "void", 2)


def test_api_refund_twice_at_once_refunds_once(merchant: Merchant, api_key: str) -> None:
    card = issue(merchant, 1000).card
    spend = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=600)
    path = f"/api/v1/transactions/{spend.public_id}/refund/"
    responses = posted(path, {"amount": 200}, api_key, card)
    assert assert_one_answer(responses, 201)["transaction"]["amount"] == 200
    assert snapshot(card) == (600, "active", 3)


def test_api_issue_twice_at_once_issues_one_card(merchant: Merchant, api_key: str) -> None:
    responses = posted("/api/v1/gift-cards/", {"amount": 2500, "currency": "EUR"}, api_key, None)
    body = assert_one_answer(responses, 201)
    assert "code" in body
    assert GiftCard.objects.filter(merchant=merchant).count() == 1
    assert Transaction.objects.filter(kind="issue").count() == 1


# --- The services, as the till, bulk jobs and order fulfilment call them ---------------------


def test_one_key_twice_at_once_on_a_card_returns_the_first_row_to_both(
    merchant: Merchant,
) -> None:
    card = issue(merchant, 1000).card

    def redeem(_: int) -> int:
        return services.giftcard_redeem(
            merchant=merchant, card_id=card.pk, amount=1000, idempotency_key="till:abc"
        ).pk

    first, second = together(redeem, holding=card)
    assert first == second
    assert snapshot(card) == (0, "redeemed", 2)


def test_one_issue_key_twice_at_once_returns_the_first_card_to_both(merchant: Merchant) -> None:
    def issue_once(_: int) -> tuple[int, str]:
        issued = services.giftcard_issue(
            merchant=merchant, amount=2500, idempotency_key="order:ord_1:1:0"
        )
        return issued.card.pk, issued.code

    first, second = together(issue_once)
    assert first == second
    assert GiftCard.objects.count() == 1
    assert Transaction.objects.count() == 1


# --- The card pages --------------------------------------------------------------------------


@pytest.fixture
def manager(merchant: Merchant, member_factory: Callable[..., Membership]) -> User:
    return member_factory(merchant, Role.MANAGER).user


def submitted(user: User, path: str, data: dict[str, Any], card: GiftCard | None) -> list[int]:
    def post(_: int) -> int:
        client = Client()
        client.force_login(user)
        return int(client.post(path, data).status_code)

    return together(post, holding=card)


def page_url(name: str, merchant: Merchant, *args: str) -> str:
    return reverse(f"giftcards:{name}", args=[merchant.slug, *args])


def test_the_issue_form_twice_at_once_issues_one_card(merchant: Merchant, manager: User) -> None:
    data = {
        "currency": "EUR",
        "amount": "25.00",
        "product": "",
        "expires_on": "",
        "recipient_email": "",
        "recipient_phone": "",
        "reference": "",
        "idempotency_key": "i" * 22,
    }
    statuses = submitted(manager, page_url("card-issue", merchant), data, None)
    assert statuses == [200, 200]
    assert GiftCard.objects.filter(merchant=merchant).count() == 1
    assert Transaction.objects.filter(kind="issue").count() == 1


def test_the_reload_form_twice_at_once_reloads_once(merchant: Merchant, manager: User) -> None:
    card = issue(merchant, 1000).card
    data = {"reload-amount": "5.00", "reload-idempotency_key": "r" * 20}
    path = page_url("card-reload", merchant, card.public_id)
    assert submitted(manager, path, data, card) == [302, 302]
    assert snapshot(card) == (1500, "active", 2)


def test_the_refund_form_twice_at_once_refunds_once(merchant: Merchant, manager: User) -> None:
    card = issue(merchant, 1000).card
    spend = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=600)
    data = {"refund-amount": "2.00", "refund-idempotency_key": "f" * 20}
    path = page_url("transaction-refund", merchant, spend.public_id)
    assert submitted(manager, path, data, card) == [302, 302]
    assert snapshot(card) == (600, "active", 3)
