"""Card links (``/gift/t/<token>/``) open the card for ``CARD_LINK_MAX_AGE_DAYS`` days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from giftcards import codes
from giftcards.models import GiftCard
from giftcards.services import giftcard_issue
from merchants.models import Merchant
from orders.services import card_link_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue_card(merchant: Merchant) -> Callable[..., GiftCard]:
    return lambda: giftcard_issue(merchant=merchant, amount=2500, currency="EUR").card


def test_a_link_opens_the_card_for_400_days_by_default(
    client: Client, issue_card: Callable[..., GiftCard]
) -> None:
    card = issue_card()
    link = f"/gift/t/{card_link_token(card)}/"
    now = timezone.now()

    with time_machine.travel(now + timedelta(days=399)):
        assert client.get(link).status_code == 200
    with time_machine.travel(now + timedelta(days=401)):
        assert client.get(link).status_code == 404


def test_the_link_lifetime_is_the_setting(
    client: Client, issue_card: Callable[..., GiftCard], settings: Any
) -> None:
    settings.CARD_LINK_MAX_AGE_DAYS = 30
    card = issue_card()
    link = f"/gift/t/{card_link_token(card)}/"
    now = timezone.now()

    with time_machine.travel(now + timedelta(days=29)):
        response = client.get(link)
        assert response.status_code == 200
        assert codes.format_code(codes.decrypt(card.code_encrypted)) in response.content.decode()
    with time_machine.travel(now + timedelta(days=31)):
        response = client.get(link)
        assert response.status_code == 404
        assert codes.format_code(codes.decrypt(card.code_encrypted)) not in (
            response.content.decode()
        )
