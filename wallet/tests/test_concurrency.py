"""Many people claiming one card at the same moment: exactly one of them gets it."""

from __future__ import annotations

import pytest
from django.db import connection

from giftcards.services import giftcard_issue
from merchants.models import Merchant
from orders.services import card_link_token
from tests.concurrency import in_threads
from tests.factories import UserFactory
from wallet import services
from wallet.exceptions import CardAlreadyClaimed
from wallet.models import WalletCard

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_parallel_claims_of_one_card_give_it_to_exactly_one_account(merchant: Merchant) -> None:
    card = giftcard_issue(merchant=merchant, amount=2500, currency="EUR").card
    token = card_link_token(card)
    people = [UserFactory() for _ in range(6)]

    def claim(index: int) -> str:
        try:
            services.wallet_claim_by_link(user=people[index], token=token)
        except CardAlreadyClaimed:
            return "refused"
        return "added"

    outcomes = in_threads(len(people), claim)

    assert sorted(outcomes) == ["added"] + ["refused"] * 5
    assert WalletCard.objects.filter(gift_card=card).count() == 1
