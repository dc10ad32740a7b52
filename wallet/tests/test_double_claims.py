"""One person claiming one card twice at once (a double click): it is added once, and
both answers name the same wallet entry (PostgreSQL row locks)."""

from __future__ import annotations

import pytest
from django.db import connection

from giftcards.services import giftcard_issue
from merchants.models import Merchant
from orders.services import card_link_token
from tests.concurrency import in_threads
from tests.factories import UserFactory
from wallet import services
from wallet.models import WalletCard

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_a_double_claim_adds_the_card_once(merchant: Merchant) -> None:
    card = giftcard_issue(merchant=merchant, amount=2500, currency="EUR").card
    token = card_link_token(card)
    person = UserFactory()

    def claim(_: int) -> tuple[int, bool]:
        result = services.wallet_claim_by_link(user=person, token=token)
        return result.wallet_card.pk, result.added

    first, second = in_threads(2, claim)
    assert first[0] == second[0]
    assert sorted([first[1], second[1]]) == [False, True]
    assert WalletCard.objects.filter(gift_card=card).count() == 1
