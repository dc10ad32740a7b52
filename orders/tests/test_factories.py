"""The order factories go through the order services: totals are priced by
``order_create``, and a paid order's cards are issued by fulfilment."""

from __future__ import annotations

import pytest

from giftcards.models import GiftCard
from giftcards.tests.helpers import ledger_sum
from merchants.models import Merchant
from orders.models import OrderStatus
from orders.tests.factories import OrderFactory, PaidOrderFactory

pytestmark = pytest.mark.django_db


def test_an_order_is_pending_and_priced_by_the_service(merchant: Merchant) -> None:
    order = OrderFactory(merchant=merchant)
    assert (order.status, order.total, order.currency) == (OrderStatus.PENDING, 2500, "EUR")
    assert not GiftCard.objects.exists()


def test_a_paid_order_is_fulfilled_with_cards_its_ledger_explains(merchant: Merchant) -> None:
    order = PaidOrderFactory(merchant=merchant)
    card = GiftCard.objects.get()
    assert order.status == OrderStatus.FULFILLED
    assert (card.merchant, card.balance, ledger_sum(card)) == (merchant, 2500, 2500)
